//! A brought diffusers export, opened: its four graphs as sessions on one provider, its
//! tokenizer, and what its configs say (latent scaling, the VAE's downscale, the UNet's
//! channels). Each call adapts to what the graph declares rather than assuming one export
//! version: `timestep` scalar or vector, int64, int32, float or half; `input_ids` int32 or
//! int64; fp16 or fp32 tensors; the VAE encoder's `latent_sample` or `latent_parameters`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use half::f16;
use ort::session::Session;
use ort::session::SessionInputValue;
use ort::value::{Tensor, TensorElementType, TensorRef, ValueType};
use serde_json::Value;

use super::tokenizer::ClipTokenizer;
use crate::brought::{self, Record};
use crate::session::{commit, Provider, Providers};
use crate::{Cache, ModelError};

/// A graph input or output: name, element type, declared shape (−1: dynamic).
#[derive(Debug, Clone)]
struct Port {
    name: String,
    elem: TensorElementType,
    shape: Vec<i64>,
}

impl Port {
    fn of(outlet: &ort::value::Outlet) -> Port {
        let (elem, shape) = match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => (*ty, shape.iter().copied().collect()),
            _ => (TensorElementType::Float32, Vec::new()),
        };
        Port { name: outlet.name().to_string(), elem, shape }
    }
}

struct Component {
    label: String,
    session: Mutex<Session>,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
}

impl Component {
    fn open(
        cache: &Cache,
        dir: &Path,
        name: &str,
        label: &str,
        providers: &Providers,
    ) -> Result<(Component, Provider), ModelError> {
        let (session, provider) = commit(cache, &dir.join(name).join("model.onnx"), label, providers)?;
        let inputs = session.inputs().iter().map(Port::of).collect();
        let outputs = session.outputs().iter().map(Port::of).collect();
        Ok((Component { label: label.to_string(), session: Mutex::new(session), inputs, outputs }, provider))
    }

    fn input(&self, name: &str) -> Result<&Port, ModelError> {
        self.inputs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ModelError::Run(format!("{}: the graph has no input `{name}`", self.label)))
    }

    /// The output called `name`, else the first of `fallbacks` present, else the first.
    fn output(&self, names: &[&str]) -> String {
        names
            .iter()
            .find_map(|n| self.outputs.iter().find(|p| p.name == *n))
            .or(self.outputs.first())
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    /// Runs the graph; returns the output `output` as f32 with its shape.
    fn run(
        &self,
        provider: Provider,
        inputs: Vec<(String, SessionInputValue<'_>)>,
        output: &str,
    ) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
        let err = |e: ort::Error| run_error(&self.label, provider, e);
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(inputs).map_err(err)?;
        let value = outputs
            .get(output)
            .ok_or_else(|| ModelError::Run(format!("{}: the graph gave no `{output}`", self.label)))?;
        let extracted = match value.dtype() {
            ValueType::Tensor { ty: TensorElementType::Float16, .. } => {
                let (shape, data) = value.try_extract_tensor::<f16>().map_err(err)?;
                (shape.to_vec(), data.iter().map(|v| v.to_f32()).collect())
            }
            _ => {
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(err)?;
                (shape.to_vec(), data.to_vec())
            }
        };
        Ok((extracted.0.iter().map(|&d| d.max(0) as usize).collect(), extracted.1))
    }
}

/// A run error; out of memory on the GPU gets its own error, so a job can say so.
fn run_error(label: &str, provider: Provider, e: ort::Error) -> ModelError {
    classify(label, provider, e.to_string())
}

fn classify(label: &str, provider: Provider, text: String) -> ModelError {
    let lower = text.to_lowercase();
    let oom =
        lower.contains("out of memory") || lower.contains("failed to allocate memory") || lower.contains("bfcarena");
    if oom && provider == Provider::Cuda {
        ModelError::GpuOutOfMemory(format!("{label}: {text}"))
    } else {
        ModelError::Run(format!("{label}: {text}"))
    }
}

/// Float data as the port's element type: borrowed as it is when the graph takes f32,
/// converted when it takes f16.
fn float_value<'a>(
    port: &Port,
    shape: Vec<usize>,
    data: &'a [f32],
) -> Result<(String, SessionInputValue<'a>), ModelError> {
    let fail = |e: ort::Error| ModelError::Run(format!("{}: {e}", port.name));
    let value: SessionInputValue<'a> = match port.elem {
        TensorElementType::Float16 => {
            let half: Vec<f16> = data.iter().map(|&v| f16::from_f32(v)).collect();
            Tensor::from_array((shape, half)).map_err(fail)?.into_dyn().into()
        }
        TensorElementType::Float32 => TensorRef::from_array_view((shape, data)).map_err(fail)?.into_dyn().into(),
        other => return Err(ModelError::Run(format!("{}: a float input declared as {other:?}", port.name))),
    };
    Ok((port.name.clone(), value))
}

/// Whole numbers as the port's element type (int64, int32, or a float type).
fn integer_value(
    port: &Port,
    shape: Vec<usize>,
    data: Vec<i64>,
) -> Result<(String, SessionInputValue<'static>), ModelError> {
    let fail = |e: ort::Error| ModelError::Run(format!("{}: {e}", port.name));
    let value: SessionInputValue<'static> = match port.elem {
        TensorElementType::Int64 => Tensor::from_array((shape, data)).map_err(fail)?.into_dyn().into(),
        TensorElementType::Int32 => {
            let narrow: Vec<i32> = data.into_iter().map(|v| v as i32).collect();
            Tensor::from_array((shape, narrow)).map_err(fail)?.into_dyn().into()
        }
        TensorElementType::Float16 => {
            let half: Vec<f16> = data.into_iter().map(|v| f16::from_f32(v as f32)).collect();
            Tensor::from_array((shape, half)).map_err(fail)?.into_dyn().into()
        }
        _ => {
            let float: Vec<f32> = data.into_iter().map(|v| v as f32).collect();
            Tensor::from_array((shape, float)).map_err(fail)?.into_dyn().into()
        }
    };
    Ok((port.name.clone(), value))
}

/// A model the user brought, ready to run.
pub struct Export {
    pub record: Record,
    /// sha256 over the record's file list: names the whole export in provenance.
    pub digest: String,
    pub provider: Provider,
    /// The prompt's tokenizer; `None` for a try-on model (CatVTON layout), which reads no text.
    pub tokenizer: Option<ClipTokenizer>,
    /// `scheduler/scheduler_config.json`, as written.
    pub scheduler: Value,
    /// The VAE's `scaling_factor` (latents are the encoder's mean times this).
    pub scaling_factor: f32,
    /// Pixels per latent along each side (2^(VAE levels − 1); 8 for Stable Diffusion).
    pub vae_scale: usize,
    /// Channels of the latents (4) and of the UNet's input (4, or 9 for inpainting).
    pub latent_channels: usize,
    pub unet_channels: usize,
    /// The side the model was trained at, in pixels (`sample_size` × `vae_scale`), when known.
    pub native_size: Option<u32>,
    /// Bytes of every file, weights included.
    pub bytes: u64,
    text_encoder: Option<Component>,
    unet: Component,
    vae_decoder: Component,
    vae_encoder: Option<Component>,
    last_used: Mutex<Instant>,
    preview: std::sync::OnceLock<PreviewMap>,
}

/// The VAE decoder approximated by one linear map per pixel (what previews draw with):
/// `rgb = bias + Σ_k weights[k] · latent_k`, values in [−1, 1].
#[derive(Debug, Clone, Default)]
pub struct PreviewMap {
    pub bias: [f32; 3],
    pub weights: Vec<[f32; 3]>,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("name", &self.record.name)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

fn config(dir: &Path, file: &str) -> Value {
    std::fs::read_to_string(dir.join(file)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

impl Export {
    /// Opens the brought model `name` on `providers`.
    pub fn open(cache: &Cache, name: &str, providers: &Providers) -> Result<Export, ModelError> {
        let record = brought::find(cache, name).ok_or_else(|| ModelError::NotAdded(name.to_string()))?;
        let dir = brought::dir(cache, name);
        let digest = record.digest();
        let label = |c: &str| format!("{name}/{c}");
        let (unet, provider) = Component::open(cache, &dir, "unet", &label("unet"), providers)?;
        // The other graphs run where the UNet runs.
        let same = Providers { order: vec![provider], explicit: true };
        // A try-on model reads no text: its UNet's cross-attention is skipped.
        let (text_encoder, tokenizer) = match record.is_try_on() {
            true => (None, None),
            false => {
                let (text_encoder, _) = Component::open(cache, &dir, "text_encoder", &label("text_encoder"), &same)?;
                let sequence =
                    text_encoder.input("input_ids")?.shape.get(1).copied().filter(|&d| d > 0).map(|d| d as usize);
                let tokenizer = ClipTokenizer::from_dir(&dir.join("tokenizer"), sequence).map_err(ModelError::Run)?;
                (Some(text_encoder), Some(tokenizer))
            }
        };
        let (vae_decoder, _) = Component::open(cache, &dir, "vae_decoder", &label("vae_decoder"), &same)?;
        let vae_encoder = match dir.join("vae_encoder/model.onnx").is_file() {
            true => Some(Component::open(cache, &dir, "vae_encoder", &label("vae_encoder"), &same)?.0),
            false => None,
        };
        let vae = config(&dir, "vae_decoder/config.json");
        let levels = vae.get("block_out_channels").and_then(Value::as_array).map(|a| a.len()).unwrap_or(4);
        let vae_scale = 1usize << levels.saturating_sub(1);
        let scaling_factor = vae.get("scaling_factor").and_then(Value::as_f64).unwrap_or(0.18215) as f32;
        let latent_channels = vae.get("latent_channels").and_then(Value::as_u64).unwrap_or(4) as usize;
        let unet_channels = unet.input("sample")?.shape.get(1).copied().filter(|&d| d > 0).unwrap_or(4) as usize;
        let sample_size = config(&dir, "unet/config.json").get("sample_size").and_then(Value::as_u64);
        Ok(Export {
            digest,
            provider,
            tokenizer,
            scheduler: config(&dir, "scheduler/scheduler_config.json"),
            scaling_factor,
            vae_scale,
            latent_channels,
            unet_channels,
            native_size: sample_size.map(|s| (s as usize * vae_scale) as u32),
            bytes: record.files.iter().map(|f| f.bytes).sum(),
            record,
            text_encoder,
            unet,
            vae_decoder,
            vae_encoder,
            last_used: Mutex::new(Instant::now()),
            preview: std::sync::OnceLock::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Whether this is a try-on model (CatVTON layout): person and garment in, no prompt.
    pub fn is_try_on(&self) -> bool {
        self.record.is_try_on()
    }

    /// The latent grid's width and height when the UNet's graph fixes them (a try-on UNet's
    /// height is the person's and the garment's together).
    pub fn fixed_latents(&self) -> Option<(usize, usize)> {
        let shape = &self.unet.input("sample").ok()?.shape;
        match shape.as_slice() {
            [_, _, h, w] if *h > 0 && *w > 0 => Some((*w as usize, *h as usize)),
            _ => None,
        }
    }

    /// Whether the export has a VAE encoder (image-to-image, inpainting).
    pub fn can_encode(&self) -> bool {
        self.vae_encoder.is_some()
    }

    /// How many images one UNet call may take: 1 when the graph fixes its batch at 1 (guidance
    /// then runs the UNet twice a step), else 2.
    pub fn unet_batch(&self) -> usize {
        match self.unet.input("sample").ok().and_then(|p| p.shape.first().copied()) {
            Some(1) => 1,
            _ => 2,
        }
    }

    pub(crate) fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    pub(crate) fn idle_for(&self) -> std::time::Duration {
        self.last_used.lock().unwrap_or_else(|p| p.into_inner()).elapsed()
    }

    /// The preview map, measured once from the export's own decoder: the mean colour it
    /// decodes from zero latents, and from a unit latent in each channel (an 8×8 latent each).
    /// A decoder that fails gives a grey map: a preview is never worth failing a run for.
    pub fn preview_map(&self) -> &PreviewMap {
        self.preview.get_or_init(|| {
            let side = 8;
            let plane = side * side;
            let mean_rgb = |latent: Vec<f32>| -> Option<[f32; 3]> {
                let (shape, pixels) = self.decode(latent, [1, self.latent_channels, side, side]).ok()?;
                let n = shape.get(2).copied().unwrap_or(0) * shape.get(3).copied().unwrap_or(0);
                (n > 0 && pixels.len() >= 3 * n)
                    .then(|| std::array::from_fn(|c| pixels[c * n..(c + 1) * n].iter().sum::<f32>() / n as f32))
            };
            let Some(bias) = mean_rgb(vec![0.0; self.latent_channels * plane]) else {
                return PreviewMap { bias: [0.0; 3], weights: vec![[0.0; 3]; self.latent_channels] };
            };
            let weights = (0..self.latent_channels)
                .map(|k| {
                    let mut latent = vec![0.0; self.latent_channels * plane];
                    latent[k * plane..(k + 1) * plane].iter_mut().for_each(|v| *v = 1.0);
                    mean_rgb(latent).map(|rgb| std::array::from_fn(|c| rgb[c] - bias[c])).unwrap_or([0.0; 3])
                })
                .collect();
            PreviewMap { bias, weights }
        })
    }

    /// The text encoder's hidden states for `ids`: shape [1, sequence, width] and values.
    pub fn encode_text(&self, ids: &[i64]) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
        self.touch();
        let encoder = self.text_encoder.as_ref().ok_or_else(|| {
            ModelError::Run(format!("{} is a try-on model: it has no text encoder", self.record.name))
        })?;
        let port = encoder.input("input_ids")?;
        let input = integer_value(port, vec![1, ids.len()], ids.to_vec())?;
        let output = encoder.output(&["last_hidden_state"]);
        encoder.run(self.provider, vec![input], &output)
    }

    /// The UNet's output for `sample` ([batch, channels, h, w]) at `timestep` given the text's
    /// hidden states ([batch, sequence, width]; `None` for a try-on UNet, which takes no text).
    /// A timestep declared as a whole number is cut
    /// to one (as diffusers' ONNX pipeline does); its rank and length follow the graph.
    pub fn unet(
        &self,
        sample: &[f32],
        shape: [usize; 4],
        timestep: f64,
        hidden: Option<(&[f32], [usize; 3])>,
    ) -> Result<Vec<f32>, ModelError> {
        self.touch();
        let sample_port = self.unet.input("sample")?;
        let t_port = self.unet.input("timestep")?;
        let t_shape: Vec<usize> = match t_port.shape.as_slice() {
            [] => vec![],
            [n] if *n > 0 => vec![*n as usize],
            _ => vec![1],
        };
        let count = t_shape.iter().product::<usize>().max(1);
        let t = match t_port.elem {
            TensorElementType::Float32 => {
                let value = Tensor::from_array((t_shape, vec![timestep as f32; count]))
                    .map_err(|e| ModelError::Run(format!("timestep: {e}")))?;
                (t_port.name.clone(), value.into_dyn().into())
            }
            TensorElementType::Float16 => {
                let value = Tensor::from_array((t_shape, vec![f16::from_f64(timestep); count]))
                    .map_err(|e| ModelError::Run(format!("timestep: {e}")))?;
                (t_port.name.clone(), value.into_dyn().into())
            }
            _ => integer_value(t_port, t_shape, vec![timestep as i64; count])?,
        };
        let mut inputs = vec![float_value(sample_port, shape.to_vec(), sample)?, t];
        if let Some((hidden, hidden_shape)) = hidden {
            inputs.push(float_value(self.unet.input("encoder_hidden_states")?, hidden_shape.to_vec(), hidden)?);
        }
        let output = self.unet.output(&["out_sample"]);
        Ok(self.unet.run(self.provider, inputs, &output)?.1)
    }

    /// Pixels in [−1, 1] ([1, 3, H, W]) from latents ([1, C, h, w], already divided by the
    /// scaling factor).
    pub fn decode(&self, latents: Vec<f32>, shape: [usize; 4]) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
        self.touch();
        let input = float_value(self.vae_decoder.input("latent_sample")?, shape.to_vec(), &latents)?;
        let output = self.vae_decoder.output(&["sample"]);
        self.vae_decoder.run(self.provider, vec![input], &output)
    }

    /// The latent distribution's mean ([1, C, h, w], not yet scaled) of pixels in [−1, 1]
    /// ([1, 3, H, W]): `latent_sample` as given, or the first half of `latent_parameters`.
    pub fn encode(&self, pixels: Vec<f32>, shape: [usize; 4]) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
        self.touch();
        let encoder = self.vae_encoder.as_ref().ok_or_else(|| {
            ModelError::Run(format!("{} has no vae_encoder: it cannot start from an image", self.record.name))
        })?;
        let input = float_value(encoder.input("sample")?, shape.to_vec(), &pixels)?;
        let output = encoder.output(&["latent_sample", "latent_parameters"]);
        let (mut shape, mut values) = encoder.run(self.provider, vec![input], &output)?;
        if output == "latent_parameters" && shape.len() == 4 && shape[1] == 2 * self.latent_channels {
            // Mean then log-variance along the channels: keep the mean.
            let plane = shape[2] * shape[3];
            values.truncate(self.latent_channels * plane);
            shape[1] = self.latent_channels;
        }
        Ok((shape, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_on_the_gpu_is_its_own_error() {
        // ONNX Runtime's words when its CUDA arena cannot grow.
        let oom = || "Failed to allocate memory for requested buffer of size 1073741824".to_string();
        assert!(
            matches!(classify("sd15/unet", Provider::Cuda, oom()), ModelError::GpuOutOfMemory(m) if m.starts_with("sd15/unet"))
        );
        // On the CPU it is a run failure like any other (the host's budget guards memory there).
        assert!(matches!(classify("sd15/unet", Provider::Cpu, oom()), ModelError::Run(_)));
        let shape = "Got invalid dimensions for input: sample".to_string();
        assert!(matches!(classify("sd15/unet", Provider::Cuda, shape), ModelError::Run(_)));
    }
}
