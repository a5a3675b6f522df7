//! Sample photos for tests, benchmarks and the contact sheet, fetched like models: through a
//! registry client, pinned by sha256, cached, never committed.

use std::path::PathBuf;

use crate::fetch::{self, Cache, FetchError};
use crate::manifest::{Registry, Source};

/// scikit-image's `astronaut` (Eileen Collins, NASA; public domain), 512×512, from the
/// scikit-image 0.24.0 wheel.
pub fn astronaut(cache: &Cache) -> Result<PathBuf, FetchError> {
    let photo = cache.root().join("test-photos").join("astronaut.png");
    if photo.is_file() {
        return Ok(photo);
    }
    let source = Source {
        registry: Registry::Pypi,
        package: "scikit-image".into(),
        version: "0.24.0".into(),
        file: "scikit_image-0.24.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".into(),
        sha256: "fa27b3a0dbad807b966b8db2d78da734cb812ca4787f7fbb143764800ce2fa9c".into(),
        pip_args: ["--only-binary=:all:", "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11"]
            .map(String::from)
            .to_vec(),
        member: "skimage/data/astronaut.png".into(),
    };
    let wheel = fetch::package(cache, &source, &mut |_| {})?;
    fetch::extract(&wheel, Registry::Pypi, &source.member, &photo)?;
    Ok(photo)
}
