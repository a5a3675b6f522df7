//! Model folders users bring (issue 14): a diffusers → ONNX export in Optimum's layout
//! (`optimum-cli export onnx --model …`), or a try-on model in the CatVTON layout (issue 28:
//! `model_index.json` naming `CatVTONPipeline`, a 9-channel UNet without text input over the
//! person and the garment stacked in height, Optimum's VAE encoder and decoder, a DDIM
//! scheduler). [`inspect`] checks one before the studio accepts it:
//! the files the layout needs, each graph's inputs and outputs (read without loading it), the
//! external weight files they point at, and no link leading out of the folder. Every refusal
//! names the file, the component or the tensor at fault.

use std::path::{Path, PathBuf};

use crate::graph_io::{self, Dim, GraphIo};

/// What a UNet's input says the export does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipeline {
    /// A 4-channel UNet: text to image (and image to image with a VAE encoder).
    TextToImage,
    /// A 9-channel UNet: latents, mask and masked-image latents.
    Inpainting,
    /// A try-on model in the CatVTON layout: a 9-channel UNet with no text input, given the
    /// person and the garment concatenated along the height (`sample` [B, 9, 2h, w]).
    TryOn,
}

impl Pipeline {
    /// How records and listings name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pipeline::TextToImage => "text-to-image",
            Pipeline::Inpainting => "inpainting",
            Pipeline::TryOn => "try-on",
        }
    }
}

/// An export that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub pipeline: Pipeline,
    /// A VAE encoder is present: image to image and latent-blend inpainting can run.
    pub image_to_image: bool,
    /// The scheduler the export names (`scheduler_config.json`'s `_class_name`).
    pub scheduler: String,
    /// Every file of the export, relative to its folder, sorted (what gets hashed).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{0} is missing: an Optimum export has it (optimum-cli export onnx --model …)")]
    Missing(String),
    #[error("{0} is missing: a CatVTON-layout try-on export has it (scripts/export-catvton.py makes one)")]
    MissingTryOn(String),
    #[error("{path} is not valid JSON: {why}")]
    NotJson { path: String, why: String },
    #[error("{component}: {detail}")]
    Graph { component: &'static str, detail: String },
    #[error("{component}: its weights file {detail}")]
    ExternalData { component: &'static str, detail: String },
    #[error("{0} is a link out of the model folder; copy the file in instead")]
    LinkOut(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

const REQUIRED: [&str; 7] = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "text_encoder/model.onnx",
    "unet/model.onnx",
    "vae_decoder/model.onnx",
];

/// Checks the export in `dir`.
pub fn inspect(dir: &Path) -> Result<Export, LayoutError> {
    let root = dir.canonicalize()?;
    let mut files = Vec::new();
    walk(&root, &root, &mut files)?;
    files.sort();
    if !files.iter().any(|f| f == Path::new("model_index.json")) {
        return Err(LayoutError::Missing("model_index.json".into()));
    }
    // The pipeline's own name says which layout to hold the folder to.
    if json(&root, "model_index.json")?["_class_name"] == "CatVTONPipeline" {
        return inspect_try_on(&root, files);
    }
    for required in REQUIRED {
        if !files.iter().any(|f| f == Path::new(required)) {
            return Err(LayoutError::Missing(required.to_string()));
        }
    }
    let scheduler = json(&root, "scheduler/scheduler_config.json")?;
    let scheduler = scheduler["_class_name"].as_str().unwrap_or("DDIMScheduler").to_string();

    let text = component(&root, "text_encoder")?;
    input(&text, "text_encoder", "input_ids", &["int32", "int64"])?;
    output(&text, "text_encoder", &["last_hidden_state"])?;

    let unet = component(&root, "unet")?;
    let sample = input(&unet, "unet", "sample", &["float32", "float16"])?;
    input(&unet, "unet", "timestep", &["float32", "float16", "int64", "int32"])?;
    input(&unet, "unet", "encoder_hidden_states", &["float32", "float16"])?;
    output(&unet, "unet", &["out_sample"])?;
    let pipeline = match sample.shape.get(1) {
        Some(Dim::Fixed(4)) => Pipeline::TextToImage,
        Some(Dim::Fixed(9)) => Pipeline::Inpainting,
        other => {
            return Err(LayoutError::Graph {
                component: "unet",
                detail: format!("input `sample` has {other:?} channels; 4 (text to image) or 9 (inpainting) expected"),
            })
        }
    };

    let decoder = component(&root, "vae_decoder")?;
    input(&decoder, "vae_decoder", "latent_sample", &["float32", "float16"])?;
    output(&decoder, "vae_decoder", &["sample"])?;

    let image_to_image = files.iter().any(|f| f == Path::new("vae_encoder/model.onnx"));
    if image_to_image {
        let encoder = component(&root, "vae_encoder")?;
        input(&encoder, "vae_encoder", "sample", &["float32", "float16"])?;
        output(&encoder, "vae_encoder", &["latent_sample", "latent_parameters"])?;
    }
    Ok(Export { pipeline, image_to_image, scheduler, files })
}

const REQUIRED_TRY_ON: [&str; 5] = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "unet/model.onnx",
    "vae_encoder/model.onnx",
    "vae_decoder/model.onnx",
];

/// A CatVTON-layout try-on export: the UNet takes `sample` (x_t 4 | mask 1 | masked latents 4,
/// person over garment) and `timestep`, no text; both VAE halves are there (the person and the
/// garment are encoded, the result decoded).
fn inspect_try_on(root: &Path, files: Vec<PathBuf>) -> Result<Export, LayoutError> {
    for required in REQUIRED_TRY_ON {
        if !files.iter().any(|f| f == Path::new(required)) {
            return Err(LayoutError::MissingTryOn(required.to_string()));
        }
    }
    let scheduler = json(root, "scheduler/scheduler_config.json")?;
    let scheduler = scheduler["_class_name"].as_str().unwrap_or("DDIMScheduler").to_string();

    let unet = component(root, "unet")?;
    let sample = input(&unet, "unet", "sample", &["float32", "float16"])?;
    input(&unet, "unet", "timestep", &["float32", "float16", "int64", "int32"])?;
    output(&unet, "unet", &["out_sample"])?;
    if sample.shape.get(1) != Some(&Dim::Fixed(9)) {
        return Err(LayoutError::Graph {
            component: "unet",
            detail: format!(
                "input `sample` has {:?} channels; a try-on UNet takes 9 (latents 4, mask 1, masked person and garment 4)",
                sample.shape.get(1)
            ),
        });
    }
    if let Some(text) = unet.inputs.iter().find(|t| t.name == "encoder_hidden_states" || t.name == "input_ids") {
        return Err(LayoutError::Graph {
            component: "unet",
            detail: format!(
                "it takes `{}`: a CatVTON-layout UNet takes no text (its cross-attention is skipped)",
                text.name
            ),
        });
    }

    let encoder = component(root, "vae_encoder")?;
    input(&encoder, "vae_encoder", "sample", &["float32", "float16"])?;
    output(&encoder, "vae_encoder", &["latent_sample", "latent_parameters"])?;
    let decoder = component(root, "vae_decoder")?;
    input(&decoder, "vae_decoder", "latent_sample", &["float32", "float16"])?;
    output(&decoder, "vae_decoder", &["sample"])?;
    Ok(Export { pipeline: Pipeline::TryOn, image_to_image: true, scheduler, files })
}

/// Every file under `dir`, relative to `root`; a link is followed only if it stays inside.
fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LayoutError> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            let target = path.canonicalize()?;
            if !target.starts_with(root) {
                return Err(LayoutError::LinkOut(relative.display().to_string()));
            }
        }
        if path.is_dir() {
            walk(root, &path, files)?;
        } else {
            files.push(relative);
        }
    }
    Ok(())
}

fn json(root: &Path, name: &str) -> Result<serde_json::Value, LayoutError> {
    let text = std::fs::read_to_string(root.join(name))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| LayoutError::NotJson { path: name.to_string(), why: e.to_string() })?;
    if !value.is_object() {
        return Err(LayoutError::NotJson { path: name.to_string(), why: "not a JSON object".into() });
    }
    Ok(value)
}

/// A component's graph, with its external weights checked to be inside its folder and whole.
fn component(root: &Path, name: &'static str) -> Result<GraphIo, LayoutError> {
    let folder = root.join(name);
    let io = graph_io::read(&folder.join("model.onnx"))
        .map_err(|e| LayoutError::Graph { component: name, detail: format!("model.onnx: {e}") })?;
    for external in &io.external {
        let location = Path::new(&external.location);
        if location.is_absolute() || location.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            let detail = format!("`{}` is outside the component's folder", external.location);
            return Err(LayoutError::ExternalData { component: name, detail });
        }
        let file = folder.join(location);
        let size = std::fs::metadata(&file)
            .map_err(|_| LayoutError::ExternalData {
                component: name,
                detail: format!("`{}` is missing", external.location),
            })?
            .len();
        if size < external.offset + external.length {
            let detail = format!(
                "`{}` is {size} bytes, but tensor `{}` needs bytes {}..{}: truncated",
                external.location,
                external.tensor,
                external.offset,
                external.offset + external.length
            );
            return Err(LayoutError::ExternalData { component: name, detail });
        }
    }
    Ok(io)
}

fn input<'a>(
    io: &'a GraphIo,
    component: &'static str,
    name: &str,
    types: &[&str],
) -> Result<&'a graph_io::Tensor, LayoutError> {
    let found = io.inputs.iter().find(|t| t.name == name).ok_or_else(|| LayoutError::Graph {
        component,
        detail: format!(
            "no input `{name}`; the graph takes {}",
            io.inputs.iter().map(|t| format!("`{}`", t.name)).collect::<Vec<_>>().join(", ")
        ),
    })?;
    if !types.contains(&found.type_name()) {
        return Err(LayoutError::Graph {
            component,
            detail: format!("input `{name}` is {}; {} expected", found.type_name(), types.join(" or ")),
        });
    }
    Ok(found)
}

fn output(io: &GraphIo, component: &'static str, any_of: &[&str]) -> Result<(), LayoutError> {
    if io.outputs.iter().any(|t| any_of.contains(&t.name.as_str())) {
        return Ok(());
    }
    Err(LayoutError::Graph {
        component,
        detail: format!(
            "no output `{}`; the graph gives {}",
            any_of.join("` or `"),
            io.outputs.iter().map(|t| format!("`{}`", t.name)).collect::<Vec<_>>().join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny::{catvton_export, export_component as write, optimum_export as export, pass_through as graph};

    #[test]
    fn a_tiny_export_in_optimum_s_layout_is_accepted_and_its_kind_found() {
        let dir = tempfile::tempdir().unwrap();
        export(dir.path(), 4, true);
        let found = inspect(dir.path()).unwrap();
        assert_eq!((found.pipeline, found.image_to_image), (Pipeline::TextToImage, true));
        assert_eq!(found.scheduler, "EulerDiscreteScheduler");
        assert!(found.files.contains(&PathBuf::from("unet/model.onnx_data")));

        let inpaint = tempfile::tempdir().unwrap();
        export(inpaint.path(), 9, false);
        let found = inspect(inpaint.path()).unwrap();
        assert_eq!((found.pipeline, found.image_to_image), (Pipeline::Inpainting, false));
    }

    #[test]
    fn every_bad_folder_is_refused_with_what_is_wrong() {
        let refused = |spoil: &dyn Fn(&Path)| {
            let dir = tempfile::tempdir().unwrap();
            export(dir.path(), 4, true);
            spoil(dir.path());
            inspect(dir.path()).unwrap_err().to_string()
        };
        let why = refused(&|d| std::fs::remove_dir_all(d.join("vae_decoder")).unwrap());
        assert!(why.contains("vae_decoder/model.onnx is missing"), "{why}");

        let why = refused(&|d| {
            let g = graph(
                &[("sample", vec![2, 4, 8, 8]), ("timestep", vec![1]), ("encoder_hidden_states", vec![2, 77, 32])],
                &[],
                &[("noise_pred", vec![2, 4, 8, 8])],
                false,
            );
            write(d, "unet", &g);
        });
        assert!(why.contains("unet") && why.contains("out_sample") && why.contains("noise_pred"), "{why}");

        let why = refused(&|d| {
            write(
                d,
                "text_encoder",
                &graph(&[("input_ids", vec![1, 77])], &[], &[("last_hidden_state", vec![1, 77])], false),
            )
        });
        assert!(why.contains("input_ids` is float32"), "{why}");

        let why = refused(&|d| {
            let data = d.join("unet/model.onnx_data");
            let bytes = std::fs::read(&data).unwrap();
            std::fs::write(&data, &bytes[..bytes.len() - 1]).unwrap();
        });
        assert!(why.contains("truncated") && why.contains("model.onnx_data"), "{why}");

        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("merges.txt"), "#version: 0.2\n").unwrap();
        let why = refused(&|d| {
            std::fs::remove_file(d.join("tokenizer/merges.txt")).unwrap();
            std::os::unix::fs::symlink(outside.path().join("merges.txt"), d.join("tokenizer/merges.txt")).unwrap();
        });
        assert!(why.contains("tokenizer/merges.txt is a link out"), "{why}");

        let why = refused(&|d| std::fs::write(d.join("scheduler/scheduler_config.json"), "[1, 2").unwrap());
        assert!(why.contains("scheduler_config.json is not valid JSON"), "{why}");

        let why = refused(&|d| {
            let g = graph(
                &[("sample", vec![2, 5, 8, 8]), ("timestep", vec![1]), ("encoder_hidden_states", vec![2, 77, 32])],
                &[],
                &[("out_sample", vec![2, 5, 8, 8])],
                false,
            );
            write(d, "unet", &g);
        });
        assert!(why.contains("4 (text to image) or 9 (inpainting)"), "{why}");
    }

    #[test]
    fn a_catvton_layout_is_a_try_on_model_and_its_faults_are_named() {
        let dir = tempfile::tempdir().unwrap();
        catvton_export(dir.path());
        let found = inspect(dir.path()).unwrap();
        assert_eq!((found.pipeline, found.image_to_image), (Pipeline::TryOn, true));
        assert_eq!(found.pipeline.as_str(), "try-on");
        assert_eq!(found.scheduler, "DDIMScheduler");
        assert!(found.files.contains(&PathBuf::from("unet/model.onnx_data")), "{:?}", found.files);

        let refused = |spoil: &dyn Fn(&Path)| {
            let dir = tempfile::tempdir().unwrap();
            catvton_export(dir.path());
            spoil(dir.path());
            inspect(dir.path()).unwrap_err().to_string()
        };
        let why = refused(&|d| std::fs::remove_dir_all(d.join("vae_encoder")).unwrap());
        assert!(why.contains("vae_encoder/model.onnx is missing") && why.contains("CatVTON"), "{why}");
        let why = refused(&|d| {
            let g = graph(
                &[("sample", vec![2, 4, 16, 8]), ("timestep", vec![1])],
                &[],
                &[("out_sample", vec![2, 4, 16, 8])],
                false,
            );
            write(d, "unet", &g);
        });
        assert!(why.contains("unet") && why.contains("takes 9"), "{why}");
        let why = refused(&|d| {
            let g = graph(
                &[("sample", vec![2, 9, 16, 8]), ("timestep", vec![1]), ("encoder_hidden_states", vec![2, 77, 32])],
                &[],
                &[("out_sample", vec![2, 4, 16, 8])],
                false,
            );
            write(d, "unet", &g);
        });
        assert!(why.contains("encoder_hidden_states") && why.contains("takes no text"), "{why}");
        let why = refused(&|d| std::fs::remove_file(d.join("unet/model.onnx_data")).unwrap());
        assert!(why.contains("model.onnx_data") && why.contains("missing"), "{why}");
        // A text-to-image export is not taken for one, nor one for a text-to-image export.
        let sd = tempfile::tempdir().unwrap();
        export(sd.path(), 9, true);
        assert_eq!(inspect(sd.path()).unwrap().pipeline, Pipeline::Inpainting);
    }

    #[test]
    fn the_tiny_graphs_run_in_onnx_runtime_as_exported() {
        // The tiny export's graphs are real ONNX: the UNet (external weights) runs, if the
        // runtime is installed here, and computes its known answer (half its input).
        let Some(root) = crate::Cache::default_root() else { return };
        let cache = crate::Cache::new(root);
        let Ok(env) = crate::runtime::init(&cache, false) else { return };
        let dir = tempfile::tempdir().unwrap();
        export(dir.path(), 4, false);
        let mut session =
            ort::session::Session::builder(env).unwrap().commit_from_file(dir.path().join("unet/model.onnx")).unwrap();
        let sample = ort::value::Tensor::from_array((vec![2usize, 4, 8, 8], vec![2.0f32; 512])).unwrap();
        let timestep = ort::value::Tensor::from_array((vec![1usize], vec![981i64])).unwrap();
        let hidden = ort::value::Tensor::from_array((vec![2usize, 77, 32], vec![0.0f32; 2 * 77 * 32])).unwrap();
        let out = session
            .run(ort::inputs!["sample" => sample, "timestep" => timestep, "encoder_hidden_states" => hidden])
            .unwrap();
        let (_, data) = out["out_sample"].try_extract_tensor::<f32>().unwrap();
        assert!(data.iter().all(|v| *v == 1.0), "half of 2");
    }
}
