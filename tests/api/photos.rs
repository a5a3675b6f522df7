//! Real test photos, fetched through the studio's own pinned fetch code (shared with benches).

/// A real photo for the vision tests: scikit-image's `astronaut` (Eileen Collins, NASA — public
/// domain), taken from the scikit-image 0.24.0 wheel through the studio's own pinned fetch code
/// and cached beside the models. Not committed.
pub fn astronaut() -> Vec<u8> {
    use figur_models::manifest::{Registry, Source};
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let photo = cache.root().join("test-photos").join("astronaut.png");
    if !photo.is_file() {
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
        let wheel = figur_models::fetch::package(&cache, &source, &mut |_| {}).expect("fetch the scikit-image wheel");
        figur_models::fetch::extract(&wheel, Registry::Pypi, &source.member, &photo).expect("extract astronaut.png");
    }
    std::fs::read(photo).unwrap()
}
