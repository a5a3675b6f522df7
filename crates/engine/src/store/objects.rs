//! The store in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…) through `object_store`, for a
//! farm spread over machines that share no folder: `--store s3://bucket/prefix`, the endpoint,
//! region and credentials from the usual `AWS_*` variables.
//!
//! The same rules as the folder: `put_new` is one `PutObject` with `If-None-Match: *` (whole by
//! S3's own rules, refused when the key exists), `put` without it. Every write carries its
//! SHA-256 (`x-amz-checksum-sha256`), so the bucket refuses bytes damaged on the way. Each realm
//! keeps its files under `<prefix>/live/` or `<prefix>/test/`, as the folder keeps `live/store/`.
//!
//! The engine's store calls are synchronous (jobs run on their own threads); the requests run
//! on a small runtime of the store's own and the caller waits for the answer, which works from
//! any thread, inside an async runtime or not.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig};

use super::{validate_key, KeyError, StoreError};

/// `s3://bucket/prefix`, checked: a bucket name S3 accepts and a prefix of plain segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl BucketUrl {
    pub fn parse(text: &str) -> Result<BucketUrl, String> {
        let rest = text.strip_prefix("s3://").ok_or_else(|| format!("`{text}` is not an s3:// address"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || !bucket.chars().all(plain)
            || !ends(bucket.chars().next())
            || !ends(bucket.chars().last())
        {
            return Err(format!(
                "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, `-` and `.`, \
                 starting and ending with a letter or digit)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        for segment in prefix.split('/').filter(|_| !prefix.is_empty()) {
            let ok = !segment.is_empty()
                && !segment.starts_with('.')
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(format!(
                    "the prefix `{prefix}` may hold only letters, digits, `.`, `_` and `-` between its `/`"
                ));
            }
        }
        Ok(BucketUrl { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    /// `prefix/name`, or `name` when there is no prefix.
    fn under(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl std::fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// Why a bucket could not be used at start.
#[derive(Debug, thiserror::Error)]
#[error("the store {url}: {message}")]
pub struct BucketError {
    pub url: String,
    pub message: String,
    /// The endpoint did not answer (down, or a server error): a later try may succeed.
    pub unreachable: bool,
}

/// A bucket the process has checked it can list: where the realms' stores and the install
/// secret live.
#[derive(Clone)]
pub struct Bucket {
    s3: Arc<dyn ObjectStore>,
    url: BucketUrl,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({})", self.url)
    }
}

impl Bucket {
    /// Builds the client from the `AWS_*` variables and lists the prefix once, so a bucket that
    /// does not exist, credentials the endpoint refuses or an endpoint that does not answer
    /// stop the process at start, named, instead of failing its first job.
    pub fn connect(url: &BucketUrl) -> Result<Bucket, BucketError> {
        let fail = |message: String, unreachable| BucketError { url: url.to_string(), message, unreachable };
        let endpoint = ["AWS_ENDPOINT", "AWS_ENDPOINT_URL"].iter().find_map(|k| std::env::var(k).ok());
        let allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        if endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) && !allow_http {
            return Err(fail(
                "the endpoint is plain HTTP; set AWS_ALLOW_HTTP=true to use it (on a network you trust)".into(),
                false,
            ));
        }
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(&url.bucket)
            .with_checksum_algorithm(Checksum::SHA256)
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "5s")
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "120s")
            // A busy endpoint is retried for up to half a minute, then the write fails (and
            // its job with a refund) rather than holding a worker for the default three.
            .with_retry(RetryConfig { max_retries: 4, retry_timeout: Duration::from_secs(30), ..Default::default() })
            .build()
            .map_err(|e| fail(format!("cannot be configured: {e}"), false))?;
        let bucket = Bucket { s3: Arc::new(s3), url: url.clone() };
        let (s3, base) = (bucket.s3.clone(), ObjectPath::from(url.prefix.as_str()));
        match block(async move { s3.list_with_delimiter(Some(&base)).await }) {
            Ok(Ok(_)) => Ok(bucket),
            Ok(Err(e)) if no_credentials_found(&e) => Err(fail(
                format!(
                    "no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and the \
                     instance metadata service (asked as on a cloud machine) gave none: {}",
                    short(&e.to_string())
                ),
                false,
            )),
            Ok(Err(e)) => {
                let (message, unreachable) = explain(&e, &url.bucket);
                Err(fail(message, unreachable))
            }
            Err(e) => Err(fail(e.to_string(), false)),
        }
    }

    /// The store of one realm: `<prefix>/<name>/`.
    pub fn realm(&self, name: &str) -> Objects {
        Objects { s3: self.s3.clone(), prefix: self.url.under(name), label: format!("{}/{name}", self.url) }
    }

    /// The install secret every process of the farm signs artifact links with, kept beside the
    /// realms (`<prefix>/install.secret`): read, or made by the first process (a create-only
    /// write: when two start at once, one wins and both read it).
    pub fn install_secret(&self) -> Result<[u8; 32], BucketError> {
        let path = ObjectPath::from(self.url.under("install.secret"));
        let fail = |message: String| BucketError { url: self.url.to_string(), message, unreachable: false };
        let parse = |bytes: &[u8]| {
            let text = std::str::from_utf8(bytes).unwrap_or("");
            hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| fail("install.secret is damaged".into()))
        };
        let read = |s3: Arc<dyn ObjectStore>, path: ObjectPath| {
            block(async move { s3.get(&path).await?.bytes().await }).map_err(|e| fail(e.to_string()))
        };
        match read(self.s3.clone(), path.clone())? {
            Ok(bytes) => return parse(&bytes),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(fail(format!("cannot read install.secret: {}", explain(&e, &self.url.bucket).0))),
        }
        let secret: [u8; 32] = rand::random();
        let (s3, at) = (self.s3.clone(), path.clone());
        let created = block(async move { s3.put_opts(&at, hex::encode(secret).into(), PutMode::Create.into()).await })
            .map_err(|e| fail(e.to_string()))?;
        match created {
            Ok(_) => Ok(secret),
            Err(object_store::Error::AlreadyExists { .. }) => match read(self.s3.clone(), path)? {
                Ok(bytes) => parse(&bytes),
                Err(e) => Err(fail(format!("cannot read install.secret: {}", explain(&e, &self.url.bucket).0))),
            },
            Err(e) => Err(fail(format!("cannot write install.secret: {}", explain(&e, &self.url.bucket).0))),
        }
    }
}

/// One realm's files in the bucket.
#[derive(Clone)]
pub struct Objects {
    s3: Arc<dyn ObjectStore>,
    /// `<prefix>/<realm>`.
    prefix: String,
    /// `s3://bucket/prefix/realm`, for messages.
    label: String,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Objects({})", self.label)
    }
}

impl Objects {
    pub fn label(&self) -> &str {
        &self.label
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}/{key}", self.prefix))
    }

    pub fn check(&self, key: &str) -> Result<(), KeyError> {
        validate_key(key)?;
        let (s3, path) = (self.s3.clone(), self.path(key));
        match block(async move { s3.head(&path).await }) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(object_store::Error::NotFound { .. })) => Err(KeyError::Missing),
            Ok(Err(e)) => Err(KeyError::Unavailable(explain(&e, &self.label).0)),
            Err(e) => Err(KeyError::Unavailable(e.to_string())),
        }
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        validate_key(key)?;
        let (s3, path) = (self.s3.clone(), self.path(key));
        match block(async move { s3.get(&path).await?.bytes().await })? {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(KeyError::Missing.into()),
            Err(e) => Err(StoreError::Remote(explain(&e, &self.label).0)),
        }
    }

    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write(key, bytes, PutMode::Overwrite)
    }

    pub fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write(key, bytes, PutMode::Create)
    }

    fn write(&self, key: &str, bytes: &[u8], mode: PutMode) -> Result<(), StoreError> {
        validate_key(key)?;
        let (s3, path) = (self.s3.clone(), self.path(key));
        let payload = PutPayload::from(bytes.to_vec());
        match block(async move { s3.put_opts(&path, payload, PutOptions::from(mode)).await })? {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(StoreError::Exists(key.to_string())),
            Err(e) => Err(StoreError::Remote(explain(&e, &self.label).0)),
        }
    }

    /// Deletes the objects directly under `folder` (not deeper: a job's later runs); missing
    /// is fine, and so is a delete the bucket refuses (the files are a cancelled run's).
    pub fn remove_files(&self, folder: &str) {
        if validate_key(folder).is_err() {
            return;
        }
        let (s3, path) = (self.s3.clone(), self.path(folder));
        let removed = block(async move {
            let listed = s3.list_with_delimiter(Some(&path)).await?;
            for object in listed.objects {
                s3.delete(&object.location).await?;
            }
            Ok::<_, object_store::Error>(())
        });
        let failed = match removed {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::warn!(folder, error = %failed, "could not remove a cancelled run's files from the store");
    }
}

/// A sentence for an S3 failure, and whether it looks like the endpoint being away (a later try
/// may succeed) rather than a refusal.
fn explain(e: &object_store::Error, bucket: &str) -> (String, bool) {
    let text = e.to_string();
    let has = |code: &str| text.contains(code);
    if has("NoSuchBucket") {
        return (format!("the bucket `{bucket}` does not exist at this endpoint"), false);
    }
    if has("InvalidAccessKeyId") || has("SignatureDoesNotMatch") || has("ExpiredToken") {
        return (
            format!("the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) were refused: {}", short(&text)),
            false,
        );
    }
    if matches!(e, object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. })
        || has("AccessDenied")
    {
        return (format!("access was denied: {}", short(&text)), false);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<reqwest::Error>() {
            if http.is_connect() || http.is_timeout() {
                return (format!("the endpoint did not answer: {}", short(&text)), true);
            }
        }
        source = cause.source();
    }
    let server_error =
        (500..600).any(|status| has(&format!("status code: {status}")) || has(&format!("status: {status}")));
    (short(&text), server_error)
}

/// Whether `e` is the client finding no credentials: none in the environment, so it asked the
/// instance metadata service, which is not there (off a cloud machine) — not an endpoint that
/// is down, to be waited for.
fn no_credentials_found(e: &object_store::Error) -> bool {
    let metadata = std::env::var("AWS_METADATA_ENDPOINT").unwrap_or_else(|_| "169.254.169.254".into());
    std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && e.to_string().contains(metadata.trim_start_matches("http://"))
}

/// An S3 error's text without the XML body's request ids (kept to one line, 300 characters).
fn short(text: &str) -> String {
    let line = text.replace('\n', " ");
    line.chars().take(300).collect()
}

/// Runs `work` on the store's runtime and waits for it.
fn block<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv().map_err(|_| StoreError::Remote("the store's request ended without an answer".into()))
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, StoreError> {
    static IO: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("figur-store-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| StoreError::Remote(format!("the store's I/O threads could not start: {e}")))
}

#[cfg(test)]
mod tests {
    use super::BucketUrl;

    #[test]
    fn bucket_addresses() {
        let url = BucketUrl::parse("s3://figur-renders/studio/a").unwrap();
        assert_eq!((url.bucket.as_str(), url.prefix.as_str()), ("figur-renders", "studio/a"));
        assert_eq!(url.to_string(), "s3://figur-renders/studio/a");
        assert_eq!(BucketUrl::parse("s3://figur/").unwrap().prefix, "");
        assert_eq!(BucketUrl::parse("s3://figur").unwrap().to_string(), "s3://figur");
        for bad in ["s3://", "s3://ab", "s3://Figur", "s3://-figur", "s3://figur/a//b", "s3://figur/../x", "gs://figur"]
        {
            assert!(BucketUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
