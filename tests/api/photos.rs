//! Real test photos, fetched through the studio's own pinned fetch code (shared with benches).

/// scikit-image's `astronaut` (Eileen Collins, NASA; public domain). Not committed.
pub fn astronaut() -> Vec<u8> {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let path = figur_models::samples::astronaut(&cache).expect("fetch the astronaut photo");
    std::fs::read(path).unwrap()
}

#[allow(dead_code)] // the benches include this file and use only the astronaut
/// A sample photo by name (`figur samples` lists them and their origins). Not committed.
pub fn sample(name: &str) -> Vec<u8> {
    let cache = figur_models::Cache::new(figur_engine::engine::default_cache_dir().expect("a cache folder"));
    let path = figur_models::samples::get(&cache, name).expect("fetch the sample photo");
    std::fs::read(path).unwrap()
}
