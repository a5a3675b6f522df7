//! Which garment categories can be worn together. The rules a stylist would state:
//! one bottom per look; a dress or jumpsuit excludes bottoms and other full-body pieces; tops
//! layer only at different layers (a t-shirt under a sweater, not two shirts); outerwear goes
//! over tops, one per layer; one pair of shoes; accessories go with anything.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::garments::{GarmentCategory, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Compatible,
    Incompatible,
    /// The candidate id names no catalog garment.
    CatalogRefMissing,
}

/// Whether `a` and `b` can be worn in one look, and why not.
pub fn check(a: &GarmentCategory, b: &GarmentCategory) -> Result<(), String> {
    use Region::*;
    let clash = |why: &str| Err(format!("{} and {}: {why}", a.display_name, b.display_name));
    match (a.region, b.region) {
        (x, _) | (_, x) if x.is_accessory() => Ok(()),
        (Feet, Feet) => clash("a look has one pair of shoes"),
        (Feet, _) | (_, Feet) => Ok(()),
        (Lower, Lower) => clash("a look has one bottom"),
        (Full, Full) => clash("a look has one full-body piece"),
        (Full, Lower) | (Lower, Full) => clash("a dress or jumpsuit is worn without a separate bottom"),
        (Upper, Upper) | (Outer, Outer) if a.layer == b.layer => clash("both sit on the same layer"),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityRequest {
    pub product_garment_category_public_id: String,
    /// Catalog complementary-garment ids, checked in this order.
    pub candidate_complementary_image_public_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompatibilityResult {
    pub public_id: String,
    pub compatible: bool,
    pub verdict: Verdict,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompatibilityResponse {
    pub product_garment_category_public_id: String,
    pub results: Vec<CompatibilityResult>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::garments::by_key;

    fn ok(a: &str, b: &str) -> bool {
        let r = check(by_key(a).unwrap(), by_key(b).unwrap());
        assert_eq!(r.is_ok(), check(by_key(b).unwrap(), by_key(a).unwrap()).is_ok(), "symmetric: {a} {b}");
        r.is_ok()
    }

    #[test]
    fn stylist_rules() {
        assert!(!ok("dress", "skirt"));
        assert!(!ok("dress", "pants"));
        assert!(!ok("jumpsuit", "dress"));
        assert!(!ok("jeans", "skirt"));
        assert!(!ok("shirt", "blouse"));
        assert!(!ok("shoes", "shoes"));
        assert!(ok("t-shirt", "sweater"));
        assert!(ok("shirt", "jacket"));
        assert!(ok("jacket", "coat"));
        assert!(ok("dress", "jacket"));
        assert!(ok("dress", "shoes"));
        assert!(ok("jeans", "bag"));
        assert!(ok("hat", "hat"));
        assert!(ok("pants", "shirt"));
    }
}
