//! Signed artifact URLs: `/v1/artifacts/<realm>/<key>?exp=<unix s>&sig=<hex HMAC-SHA256>`, with a
//! per-install secret. They work without the API key, so they can sit in `<img src>`, and they
//! expire, so a leaked URL is short-lived.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Signer {
    secret: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(secret: [u8; 32]) -> Self {
        Signer { secret }
    }

    /// The key webhook deliveries are signed with: derived from the install secret, so every
    /// process on one data folder (or one farm's shared store) signs alike, and it is never the
    /// URL-signing key itself.
    pub fn webhook_key(&self) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"figur webhooks v1");
        mac.finalize().into_bytes().into()
    }

    fn mac(&self, realm: &str, key: &str, exp: i64) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(format!("{realm}\n{key}\n{exp}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The path and query of a URL valid until `exp` (Unix seconds).
    pub fn path(&self, realm: &str, key: &str, exp: i64) -> String {
        format!("/v1/artifacts/{realm}/{key}?exp={exp}&sig={}", hex::encode(self.mac(realm, key, exp)))
    }

    /// True if `sig` is this install's signature of (realm, key, exp) and `exp` is not past.
    pub fn verify(&self, realm: &str, key: &str, exp: i64, sig: &str, now_s: i64) -> bool {
        let Ok(given) = hex::decode(sig) else { return false };
        let expected = self.mac(realm, key, exp);
        let matches: bool = expected.ct_eq(&given).into();
        matches && exp >= now_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_realm_key_and_expiry() {
        let s = Signer::new([7; 32]);
        let path = s.path("live", "artifacts/J/1-x.png", 1000);
        let sig = path.rsplit("sig=").next().unwrap();
        assert!(s.verify("live", "artifacts/J/1-x.png", 1000, sig, 999));
        assert!(!s.verify("live", "artifacts/J/1-x.png", 1000, sig, 1001), "expired");
        assert!(!s.verify("test", "artifacts/J/1-x.png", 1000, sig, 999), "other realm");
        assert!(!s.verify("live", "artifacts/J/2-x.png", 1000, sig, 999), "other key");
        assert!(!s.verify("live", "artifacts/J/1-x.png", 2000, sig, 999), "other expiry");
        assert!(!s.verify("live", "artifacts/J/1-x.png", 1000, "zz", 999));
        assert!(!Signer::new([8; 32]).verify("live", "artifacts/J/1-x.png", 1000, sig, 999), "other install");
    }
}
