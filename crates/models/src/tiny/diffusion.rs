//! Tiny exports in Optimum's diffusers layout, for the tests of the code that reads and runs
//! them (test support: they panic on an I/O error).

use std::path::Path;

use super::{Attr, Graph, Node, FLOAT, FLOAT16, INT64};
use crate::diffusion::tokenizer::clip_style_vocab;

/// A graph with the given float (or int64) inputs whose every output is its first input
/// scaled by a constant kept in an external weights file (as Optimum stores a UNet's).
pub fn pass_through(
    inputs: &[(&str, Vec<i64>)],
    int64: &[&str],
    outputs: &[(&str, Vec<i64>)],
    external: bool,
) -> Graph {
    let first = inputs[0].0;
    let cast = if int64.contains(&first) { "Cast" } else { "Identity" };
    let mut nodes = vec![Node::new(cast, &[first], "x")];
    if cast == "Cast" {
        nodes[0] = nodes[0].clone().attr("to", Attr::Int(1));
    }
    for (name, _) in outputs {
        nodes.push(Node::new("Mul", &["x", "w"], name));
    }
    Graph {
        inputs: inputs.iter().map(|(n, s)| (n.to_string(), s.clone())).collect(),
        int64_inputs: int64.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|(n, s)| (n.to_string(), s.clone())).collect(),
        constants: vec![("w".into(), vec![], vec![0.5])],
        nodes,
        external_data: external.then(|| "model.onnx_data".to_string()),
        ..Graph::default()
    }
}

pub fn export_component(dir: &Path, component: &str, g: &Graph) {
    std::fs::create_dir_all(dir.join(component)).unwrap();
    let (model, data) = g.to_onnx_with_data();
    std::fs::write(dir.join(component).join("model.onnx"), model).unwrap();
    if let Some(name) = &g.external_data {
        std::fs::write(dir.join(component).join(name), data).unwrap();
    }
    std::fs::write(dir.join(component).join("config.json"), "{}").unwrap();
}

/// A tiny export in Optimum's layout; `channels`: the UNet's 4 or 9.
pub fn optimum_export(dir: &Path, channels: i64, encoder: bool) {
    for (file, text) in [
        ("model_index.json", r#"{"_class_name": "StableDiffusionPipeline"}"#),
        ("scheduler/scheduler_config.json", r#"{"_class_name": "EulerDiscreteScheduler"}"#),
        ("tokenizer/vocab.json", r#"{"a</w>": 320}"#),
        ("tokenizer/merges.txt", "#version: 0.2\n"),
    ] {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }
    export_component(
        dir,
        "text_encoder",
        &pass_through(&[("input_ids", vec![1, 77])], &["input_ids"], &[("last_hidden_state", vec![1, 77])], false),
    );
    export_component(
        dir,
        "unet",
        &pass_through(
            &[("sample", vec![2, channels, 8, 8]), ("timestep", vec![1]), ("encoder_hidden_states", vec![2, 77, 32])],
            &["timestep"],
            &[("out_sample", vec![2, channels, 8, 8])],
            true,
        ),
    );
    export_component(
        dir,
        "vae_decoder",
        &pass_through(&[("latent_sample", vec![1, 4, 8, 8])], &[], &[("sample", vec![1, 4, 8, 8])], false),
    );
    if encoder {
        export_component(
            dir,
            "vae_encoder",
            &pass_through(&[("sample", vec![1, 3, 64, 64])], &[], &[("latent_sample", vec![1, 3, 64, 64])], false),
        );
    }
}

/// A tiny export in the CatVTON try-on layout (issue 28): `model_index.json` naming
/// `CatVTONPipeline`, a 9-channel UNet over the person and garment stacked in height (8 + 8
/// latent rows) with no text input and its weights in an external file, both VAE halves, DDIM.
/// Its graphs only pass values through: it is for the layout's checks, not for known answers.
pub fn catvton_export(dir: &Path) {
    for (file, text) in [
        ("model_index.json", r#"{"_class_name": "CatVTONPipeline"}"#),
        ("scheduler/scheduler_config.json", r#"{"_class_name": "DDIMScheduler"}"#),
    ] {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }
    export_component(
        dir,
        "unet",
        &pass_through(
            &[("sample", vec![2, 9, 16, 8]), ("timestep", vec![1])],
            &["timestep"],
            &[("out_sample", vec![2, 4, 16, 8])],
            true,
        ),
    );
    export_component(
        dir,
        "vae_decoder",
        &pass_through(&[("latent_sample", vec![1, 4, 8, 8])], &[], &[("sample", vec![1, 3, 64, 64])], false),
    );
    export_component(
        dir,
        "vae_encoder",
        &pass_through(&[("sample", vec![1, 3, 64, 64])], &[], &[("latent_sample", vec![1, 4, 8, 8])], false),
    );
}

/// The oracle export: a UNet that, at any timestep, predicts exactly the noise (or velocity)
/// that carries whatever latents it is given to a known target, and a VAE that is exactly
/// invertible (it does not downscale: latents are the pixels in [−1, 1] plus a zero channel,
/// times the scaling factor). A correct pipeline therefore ends on [`Oracle::pixel`] for every
/// scheduler, prediction type and step count. The target moves with the text: the UNet's x₀
/// is the picture plus [`ORACLE_TEXT_GAIN`] × the mean of the text encoder's hidden states,
/// whose embedding table is [`oracle_embedding`]; guidance then mixes those means linearly.
#[derive(Debug, Clone)]
pub struct Oracle {
    /// Width and height of the picture, in pixels and in latents.
    pub side: i64,
    /// A picture of the project's choosing as the target instead of the drawn disc (width,
    /// height, RGB bytes), its values as they are; its size then replaces `side`.
    pub picture: Option<(i64, i64, Vec<u8>)>,
    /// How far the text's mean hidden state moves the target ([`ORACLE_TEXT_GAIN`]; 0: the
    /// picture whatever the prompt).
    pub text_gain: f32,
    /// The UNet's input channels: 4, or 9 for inpainting.
    pub channels: i64,
    /// `scheduler/scheduler_config.json` (its betas must be `scaled_linear` or `linear`); the
    /// UNet predicts what its `prediction_type` names.
    pub scheduler: String,
    /// fp16 for the UNet's, the VAE's and the text encoder's float tensors.
    pub half: bool,
    /// The UNet's `timestep`: its element type and whether it is a 1-element vector.
    pub timestep: (i64, bool),
    /// The text encoder's `input_ids` element type.
    pub ids: i64,
    /// The VAE encoder's output (`latent_sample` or `latent_parameters`); `None`: no encoder.
    pub encoder: Option<&'static str>,
    /// The UNet's declared batch: −1 (dynamic) or 1.
    pub batch: i64,
}

/// The try-on oracle (issue 28): an export in the CatVTON layout whose right output is known.
/// Its UNet takes `sample` [B, 9, 2h, w] — latents x_t 4 | mask 1 | masked latents 4, the person
/// over the garment in height — and predicts exactly the noise that carries x_t to
/// x₀ = masked person + mask × garment in the top half (the garment, as given, in the bottom
/// half). So a correct pipeline ends on the person outside the mask and on the garment inside it
/// (guidance g with the garment zeroed in the unconditional branch: g × garment inside), and a
/// wrong concat axis, mask or masking shows. Its VAE is the oracle's exactly invertible one; DDIM.
#[derive(Debug, Clone)]
pub struct TryOnOracle {
    /// Width and height of one half (the person's), in pixels and latents alike.
    pub width: i64,
    pub height: i64,
    /// `scheduler/scheduler_config.json` (`scaled_linear` or `linear` betas, ε-prediction).
    pub scheduler: String,
    /// fp16 for the UNet's and the VAE's float tensors.
    pub half: bool,
    /// The UNet's declared batch: −1 (dynamic: guidance batches both branches) or 1.
    pub batch: i64,
}

impl TryOnOracle {
    pub fn new(width: i64, height: i64) -> TryOnOracle {
        TryOnOracle {
            width,
            height,
            scheduler: scheduler_config("DDIMScheduler", "epsilon", "leading"),
            half: false,
            batch: -1,
        }
    }

    /// Writes the export into `dir`.
    pub fn write(&self, dir: &Path) {
        let vae =
            format!(r#"{{"block_out_channels": [32], "latent_channels": 4, "scaling_factor": {ORACLE_SCALING}}}"#);
        for (file, text) in [
            ("model_index.json", r#"{"_class_name": "CatVTONPipeline"}"#.to_string()),
            ("scheduler/scheduler_config.json", self.scheduler.clone()),
        ] {
            std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
            std::fs::write(dir.join(file), text).unwrap();
        }
        write_component(dir, "unet", &self.unet(), r#"{"in_channels": 9}"#);
        write_oracle_vae(dir, self.half, Some("latent_sample"), &vae);
    }

    /// x = sample[:, 0:4], m = sample[:, 4:5], k = sample[:, 5:9]; x₀ = [k_top + m_top · k_bottom ;
    /// k_bottom] stacked in height; ε = (x − √ᾱ·x₀)/√(1−ᾱ).
    fn unet(&self) -> Graph {
        let (w, h) = (self.width, self.height);
        let slice = |from: &str, start: &str, end: &str, axis: &str, to: &str| {
            Node::new("Slice", &[from, start, end, axis], to)
        };
        let float = if self.half { FLOAT16 } else { FLOAT };
        let (cast_in, cast_out) = match self.half {
            true => (
                Node::new("Cast", &["sample"], "sample_f").attr("to", Attr::Int(FLOAT)),
                Node::new("Cast", &["eps"], "out_sample").attr("to", Attr::Int(FLOAT16)),
            ),
            false => (Node::new("Identity", &["sample"], "sample_f"), Node::new("Identity", &["eps"], "out_sample")),
        };
        let mut nodes = vec![
            cast_in,
            slice("sample_f", "c0", "c4", "ax1", "x"),
            slice("sample_f", "c4", "c5", "ax1", "m"),
            slice("sample_f", "c5", "c9", "ax1", "k"),
            slice("k", "c0", "rows_h", "ax2", "k_top"),
            slice("k", "rows_h", "rows_2h", "ax2", "k_bottom"),
            slice("m", "c0", "rows_h", "ax2", "m_top"),
            Node::new("Mul", &["m_top", "k_bottom"], "dressed"),
            Node::new("Add", &["k_top", "dressed"], "x0_top"),
            Node::new("Concat", &["x0_top", "k_bottom"], "x0").attr("axis", Attr::Int(2)),
        ];
        nodes.extend(timestep_scales());
        nodes.extend([
            Node::new("Mul", &["sa", "x0"], "sax0"),
            Node::new("Sub", &["x", "sax0"], "num"),
            Node::new("Div", &["num", "sb"], "eps"),
            cast_out,
        ]);
        let (floats, ints) = timestep_constants(&self.scheduler);
        Graph {
            inputs: vec![("sample".into(), vec![self.batch, 9, 2 * h, w]), ("timestep".into(), vec![1])],
            outputs: vec![("out_sample".into(), vec![self.batch, 4, 2 * h, w])],
            types: vec![("sample".into(), float), ("timestep".into(), INT64), ("out_sample".into(), float)],
            constants: floats,
            int_constants: [
                ints,
                [("c0", 0), ("c4", 4), ("c5", 5), ("c9", 9), ("ax1", 1), ("ax2", 2), ("rows_h", h), ("rows_2h", 2 * h)]
                    .into_iter()
                    .map(|(name, v)| (name.to_string(), vec![1], vec![v]))
                    .collect(),
            ]
            .concat(),
            nodes,
            external_data: Some("model.onnx_data".into()),
            ..Graph::default()
        }
    }
}

/// The oracle VAE's `scaling_factor`.
pub const ORACLE_SCALING: f32 = 0.5;
/// How far the mean hidden state moves the oracle's target latents (channels 0–2).
pub const ORACLE_TEXT_GAIN: f32 = 4.0;
/// The oracle text encoder's hidden width.
pub const ORACLE_WIDTH: usize = 8;
/// The merges of the oracle's tokenizer (a few English words whole).
pub const ORACLE_MERGES: &[(&str, &str)] =
    &[("r", "e"), ("re", "d</w>"), ("h", "a"), ("ha", "t</w>"), ("b", "l"), ("bl", "u"), ("blu", "e</w>")];

/// The oracle text encoder's embedding of token `id` at `d`: zero for the start and end
/// tokens (so padding does not dilute a prompt), else a fixed value in [−0.5, 0.5] whose mean
/// over `d` differs from word to word.
pub fn oracle_embedding(id: i64, d: usize) -> f32 {
    let specials = ORACLE_MERGES.len() as i64 + 512;
    if id >= specials {
        return 0.0;
    }
    0.5 * (id as f32 * 0.7 + d as f32 * 0.1).sin()
}

impl Oracle {
    /// Text to image on a 32-pixel square, DDIM, ε-prediction, fp32, int64 timestep vector.
    pub fn new() -> Oracle {
        Oracle {
            side: 32,
            picture: None,
            text_gain: ORACLE_TEXT_GAIN,
            channels: 4,
            scheduler: scheduler_config("DDIMScheduler", "epsilon", "leading"),
            half: false,
            timestep: (INT64, true),
            ids: INT64,
            encoder: Some("latent_sample"),
            batch: -1,
        }
    }

    /// The target picture's value at (x, y) in channel c, in [0.2, 0.8] and a whole number of
    /// 255ths: a warm disc on a cool diagonal gradient.
    pub fn pixel(&self, x: i64, y: i64, c: usize) -> f32 {
        if let Some((w, _, rgb)) = &self.picture {
            return rgb[((y * w + x) * 3) as usize + c] as f32 / 255.0;
        }
        let s = self.side as f32;
        let (u, v) = (x as f32 / s, y as f32 / s);
        let inside = (u - 0.55).powi(2) + (v - 0.45).powi(2) < 0.08;
        let f = match (inside, c) {
            (true, 0) => 0.95,
            (true, 1) => 0.45,
            (true, _) => 0.25,
            (false, 0) => 0.2 + 0.3 * u,
            (false, 1) => 0.4 + 0.2 * v,
            (false, _) => 0.9 - 0.3 * (u + v) / 2.0,
        };
        (255.0 * (0.2 + 0.6 * f)).round() / 255.0
    }

    /// Width and height of the target, in pixels and latents.
    pub fn size(&self) -> (i64, i64) {
        match &self.picture {
            Some((w, h, _)) => (*w, *h),
            None => (self.side, self.side),
        }
    }

    /// The target latents ([1, 4, h, w]): pixels to [−1, 1], a zero fourth channel, scaled.
    fn target(&self) -> Vec<f32> {
        let (w, h) = self.size();
        let mut out = Vec::with_capacity((4 * w * h) as usize);
        for c in 0..4 {
            for y in 0..h {
                for x in 0..w {
                    out.push(if c < 3 { ORACLE_SCALING * (2.0 * self.pixel(x, y, c) - 1.0) } else { 0.0 });
                }
            }
        }
        out
    }

    /// Writes the export into `dir`.
    pub fn write(&self, dir: &Path) {
        let (vocab, merges) = clip_style_vocab(ORACLE_MERGES);
        let vocab_size = ORACLE_MERGES.len() as i64 + 514;
        let pipeline = if self.channels == 9 { "StableDiffusionInpaintPipeline" } else { "StableDiffusionPipeline" };
        let vae =
            format!(r#"{{"block_out_channels": [32], "latent_channels": 4, "scaling_factor": {ORACLE_SCALING}}}"#);
        for (file, text) in [
            ("model_index.json", format!(r#"{{"_class_name": "{pipeline}"}}"#)),
            ("scheduler/scheduler_config.json", self.scheduler.clone()),
            ("tokenizer/vocab.json", vocab),
            ("tokenizer/merges.txt", merges),
            ("tokenizer/tokenizer_config.json", r#"{"model_max_length": 77, "pad_token": "<|endoftext|>"}"#.into()),
        ] {
            std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
            std::fs::write(dir.join(file), text).unwrap();
        }
        let float = if self.half { FLOAT16 } else { FLOAT };
        let cast_in = |name: &str, to: &str| match self.half {
            true => Node::new("Cast", &[name], to).attr("to", Attr::Int(FLOAT)),
            false => Node::new("Identity", &[name], to),
        };
        let cast_out = |name: &str, to: &str| match self.half {
            true => Node::new("Cast", &[name], to).attr("to", Attr::Int(FLOAT16)),
            false => Node::new("Identity", &[name], to),
        };

        // Text encoder: a table lookup.
        let table: Vec<f32> =
            (0..vocab_size).flat_map(|id| (0..ORACLE_WIDTH).map(move |d| oracle_embedding(id, d))).collect();
        let text = Graph {
            inputs: vec![("input_ids".into(), vec![1, 77])],
            types: vec![
                ("input_ids".into(), self.ids),
                ("last_hidden_state".into(), float),
                ("pooler_output".into(), float),
            ],
            outputs: vec![
                ("last_hidden_state".into(), vec![1, 77, ORACLE_WIDTH as i64]),
                ("pooler_output".into(), vec![1, ORACLE_WIDTH as i64]),
            ],
            constants: vec![("table".into(), vec![vocab_size, ORACLE_WIDTH as i64], table)],
            nodes: vec![
                Node::new("Gather", &["table", "input_ids"], "hidden"),
                cast_out("hidden", "last_hidden_state"),
                Node::new("ReduceMean", &["hidden"], "pooled")
                    .attr("axes", Attr::Ints(vec![1]))
                    .attr("keepdims", Attr::Int(0)),
                cast_out("pooled", "pooler_output"),
            ],
            ..Graph::default()
        };
        write_component(dir, "text_encoder", &text, "{\"hidden_size\": 8}");

        let n = self.size().1;
        let unet = self.unet(float, &cast_in, &cast_out);
        write_component(dir, "unet", &unet, &format!(r#"{{"sample_size": {n}, "in_channels": {}}}"#, self.channels));

        write_oracle_vae(dir, self.half, self.encoder, &vae);
    }

    /// The oracle UNet: σ at the (possibly fractional) timestep, interpolated in the σ table
    /// as the samplers do; x₀ = target + gain × mean(hidden states); then ε = (x − √ᾱ·x₀)/√(1−ᾱ)
    /// with √ᾱ = 1/√(1+σ²), √(1−ᾱ) = σ/√(1+σ²); v = √ᾱ·ε − √(1−ᾱ)·x₀.
    fn unet(&self, float: i64, cast_in: &dyn Fn(&str, &str) -> Node, cast_out: &dyn Fn(&str, &str) -> Node) -> Graph {
        let (w, h) = self.size();
        let (floats, ints) = timestep_constants(&self.scheduler);
        let t_shape = if self.timestep.1 { vec![1] } else { vec![] };
        let mut nodes = vec![cast_in("sample", "sample_f")];
        if self.channels == 9 {
            nodes.push(Node::new("Slice", &["sample_f", "zero", "four", "axis"], "x"));
        } else {
            nodes.push(Node::new("Identity", &["sample_f"], "x"));
        }
        nodes.extend(timestep_scales());
        nodes.extend([
            cast_in("encoder_hidden_states", "hidden"),
            Node::new("ReduceMean", &["hidden"], "h")
                .attr("axes", Attr::Ints(vec![1, 2]))
                .attr("keepdims", Attr::Int(1)),
            Node::new("Reshape", &["h", "per_image"], "h4"),
            Node::new("Mul", &["h4", "gain"], "kh"),
            Node::new("Add", &["target", "kh"], "x0"),
            Node::new("Mul", &["sa", "x0"], "sax0"),
            Node::new("Sub", &["x", "sax0"], "num"),
            Node::new("Div", &["num", "sb"], "eps"),
        ]);
        let config: serde_json::Value = serde_json::from_str(&self.scheduler).unwrap();
        if config["prediction_type"] == "v_prediction" {
            nodes.push(Node::new("Mul", &["sa", "eps"], "sae"));
            nodes.push(Node::new("Mul", &["sb", "x0"], "sbx0"));
            nodes.push(Node::new("Sub", &["sae", "sbx0"], "out"));
        } else {
            nodes.push(Node::new("Identity", &["eps"], "out"));
        }
        nodes.push(cast_out("out", "out_sample"));
        let gain = self.text_gain;
        Graph {
            inputs: vec![
                ("sample".into(), vec![self.batch, self.channels, h, w]),
                ("timestep".into(), t_shape),
                ("encoder_hidden_states".into(), vec![self.batch, 77, ORACLE_WIDTH as i64]),
            ],
            outputs: vec![("out_sample".into(), vec![self.batch, 4, h, w])],
            types: vec![
                ("sample".into(), float),
                ("timestep".into(), self.timestep.0),
                ("encoder_hidden_states".into(), float),
                ("out_sample".into(), float),
            ],
            constants: [
                floats,
                vec![
                    ("gain".into(), vec![1, 4, 1, 1], vec![gain, gain, gain, 0.0]),
                    ("target".into(), vec![1, 4, h, w], self.target()),
                ],
            ]
            .concat(),
            int_constants: [
                ints,
                vec![
                    ("zero".into(), vec![1], vec![0]),
                    ("four".into(), vec![1], vec![4]),
                    ("axis".into(), vec![1], vec![1]),
                    ("per_image".into(), vec![4], vec![-1, 1, 1, 1]),
                ],
            ]
            .concat(),
            nodes,
            // As Optimum stores a UNet: its weights in a file beside the graph.
            external_data: Some("model.onnx_data".into()),
            ..Graph::default()
        }
    }
}

impl Default for Oracle {
    fn default() -> Self {
        Oracle::new()
    }
}

/// A `scheduler_config.json` with Stable Diffusion 1.5's betas.
pub fn scheduler_config(class: &str, prediction: &str, spacing: &str) -> String {
    format!(
        r#"{{"_class_name": "{class}", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
  "num_train_timesteps": 1000, "prediction_type": "{prediction}", "timestep_spacing": "{spacing}",
  "steps_offset": 1, "set_alpha_to_one": true, "clip_sample": false}}"#
    )
}

/// The oracle's VAE: exactly invertible and without downscaling — the encoder's latents are
/// the pixels plus a zero fourth channel (scaled by the pipeline), the decoder keeps the first
/// three channels. `encoder`: its output's name, or `None` for no encoder.
fn write_oracle_vae(dir: &Path, half: bool, encoder: Option<&'static str>, vae: &str) {
    let float = if half { FLOAT16 } else { FLOAT };
    let cast_in = |name: &str, to: &str| match half {
        true => Node::new("Cast", &[name], to).attr("to", Attr::Int(FLOAT)),
        false => Node::new("Identity", &[name], to),
    };
    let cast_out = |name: &str, to: &str| match half {
        true => Node::new("Cast", &[name], to).attr("to", Attr::Int(FLOAT16)),
        false => Node::new("Identity", &[name], to),
    };
    let decoder = Graph {
        inputs: vec![("latent_sample".into(), vec![1, 4, -1, -1])],
        outputs: vec![("sample".into(), vec![1, 3, -1, -1])],
        types: vec![("latent_sample".into(), float), ("sample".into(), float)],
        int_constants: vec![
            ("zero".into(), vec![1], vec![0]),
            ("three".into(), vec![1], vec![3]),
            ("axis".into(), vec![1], vec![1]),
        ],
        nodes: vec![Node::new("Slice", &["latent_sample", "zero", "three", "axis"], "sample")],
        ..Graph::default()
    };
    write_component(dir, "vae_decoder", &decoder, vae);

    if let Some(output) = encoder {
        let mut nodes = vec![
            cast_in("sample", "x"),
            Node::new("Slice", &["x", "zero", "one", "axis"], "plane"),
            Node::new("Mul", &["plane", "nought"], "blank"),
            Node::new("Concat", &["x", "blank"], "mean").attr("axis", Attr::Int(1)),
        ];
        let channels = if output == "latent_parameters" {
            nodes.push(
                Node::new("Concat", &["mean", "blank", "blank", "blank", "blank"], "params").attr("axis", Attr::Int(1)),
            );
            nodes.push(cast_out("params", output));
            8
        } else {
            nodes.push(cast_out("mean", output));
            4
        };
        let encoder = Graph {
            inputs: vec![("sample".into(), vec![1, 3, -1, -1])],
            outputs: vec![(output.into(), vec![1, channels, -1, -1])],
            types: vec![("sample".into(), float), (output.into(), float)],
            constants: vec![("nought".into(), vec![], vec![0.0])],
            int_constants: vec![
                ("zero".into(), vec![1], vec![0]),
                ("one".into(), vec![1], vec![1]),
                ("axis".into(), vec![1], vec![1]),
            ],
            nodes,
            ..Graph::default()
        };
        write_component(dir, "vae_encoder", &encoder, vae);
    }
}

/// Nodes from the UNet's `timestep` to `sa` = √ᾱ and `sb` = √(1−ᾱ) at that (possibly
/// fractional) timestep, σ interpolated in the table as the samplers do. They read the
/// constants `sigmas`, `one_f`, `one_i` and `last` ([`timestep_constants`]).
fn timestep_scales() -> Vec<Node> {
    vec![
        Node::new("Cast", &["timestep"], "tf").attr("to", Attr::Int(FLOAT)),
        Node::new("Floor", &["tf"], "i0f"),
        Node::new("Sub", &["tf", "i0f"], "frac"),
        Node::new("Cast", &["i0f"], "i0").attr("to", Attr::Int(INT64)),
        Node::new("Add", &["i0", "one_i"], "i1a"),
        Node::new("Min", &["i1a", "last"], "i1"),
        Node::new("Gather", &["sigmas", "i0"], "s0"),
        Node::new("Gather", &["sigmas", "i1"], "s1"),
        Node::new("Sub", &["s1", "s0"], "ds"),
        Node::new("Mul", &["frac", "ds"], "fs"),
        Node::new("Add", &["s0", "fs"], "sigma"),
        Node::new("Mul", &["sigma", "sigma"], "sq"),
        Node::new("Add", &["sq", "one_f"], "sq1"),
        Node::new("Sqrt", &["sq1"], "den"),
        Node::new("Div", &["one_f", "den"], "sa"),
        Node::new("Div", &["sigma", "den"], "sb"),
    ]
}

/// The constants [`timestep_scales`] reads: (float, int) constants for a config.
#[allow(clippy::type_complexity)]
fn timestep_constants(scheduler: &str) -> (Vec<(String, Vec<i64>, Vec<f32>)>, Vec<(String, Vec<i64>, Vec<i64>)>) {
    let sigmas = sigma_table(scheduler);
    let last = sigmas.len() as i64 - 1;
    (
        vec![("sigmas".into(), vec![sigmas.len() as i64], sigmas), ("one_f".into(), vec![], vec![1.0])],
        vec![("one_i".into(), vec![], vec![1]), ("last".into(), vec![], vec![last])],
    )
}

/// σ_t = √((1 − ᾱ_t)/ᾱ_t) for each training timestep, from a config's betas (`scaled_linear`
/// or `linear`), written out from the definition for the oracle (not the engine's code).
fn sigma_table(config: &str) -> Vec<f32> {
    let c: serde_json::Value = serde_json::from_str(config).unwrap();
    let start = c["beta_start"].as_f64().unwrap_or(0.0001);
    let end = c["beta_end"].as_f64().unwrap_or(0.02);
    let steps = c["num_train_timesteps"].as_u64().unwrap_or(1000) as usize;
    let scaled = c["beta_schedule"].as_str() == Some("scaled_linear");
    let mut alpha_bar = 1.0f64;
    (0..steps)
        .map(|i| {
            let f = i as f64 / (steps - 1) as f64;
            let beta = if scaled {
                (start.sqrt() + f * (end.sqrt() - start.sqrt())).powi(2)
            } else {
                start + f * (end - start)
            };
            alpha_bar *= 1.0 - beta;
            ((1.0 - alpha_bar) / alpha_bar).sqrt() as f32
        })
        .collect()
}

fn write_component(dir: &Path, component: &str, g: &Graph, config: &str) {
    export_component(dir, component, g);
    std::fs::write(dir.join(component).join("config.json"), config).unwrap();
}

/// A tiny export in exactly Optimum's layout, names, ranks and dtypes (dynamic batch and
/// sizes; `input_ids` int32, `timestep` an int64 vector, `latent_parameters` from the VAE
/// encoder, the UNet's weights in `model.onnx_data`), from small random weights: a few
/// convolutions conditioned on the timestep and the text, a VAE that scales by 8 like Stable
/// Diffusion's. Its pictures mean nothing; it runs the real code path at real sizes (the
/// benchmark runs it at 512²). `width`: the UNet's channels.
pub fn tiny_sd(dir: &Path, width: i64) {
    let (vocab, merges) = clip_style_vocab(ORACLE_MERGES);
    let vocab_size = ORACLE_MERGES.len() as i64 + 514;
    let text_width = 32i64;
    for (file, text) in [
        (
            "model_index.json",
            r#"{"_class_name": "ORTStableDiffusionPipeline", "_diffusers_version": "0.31.0",
  "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
  "vae_decoder": ["diffusers", "AutoencoderKL"], "vae_encoder": ["diffusers", "AutoencoderKL"]}"#
                .to_string(),
        ),
        ("scheduler/scheduler_config.json", {
            let mut c: serde_json::Value =
                serde_json::from_str(&scheduler_config("PNDMScheduler", "epsilon", "leading")).unwrap();
            c["set_alpha_to_one"] = false.into();
            c["skip_prk_steps"] = true.into();
            c.to_string()
        }),
        ("tokenizer/vocab.json", vocab),
        ("tokenizer/merges.txt", merges),
        (
            "tokenizer/tokenizer_config.json",
            r#"{"model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
  "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer"}"#
                .into(),
        ),
        ("tokenizer/special_tokens_map.json", r#"{"pad_token": "<|endoftext|>"}"#.into()),
    ] {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }
    let mut rng = Weights(0x5eed);

    let text = Graph {
        inputs: vec![("input_ids".into(), vec![-1, -1])],
        types: vec![("input_ids".into(), super::INT32)],
        outputs: vec![
            ("last_hidden_state".into(), vec![-1, -1, text_width]),
            ("pooler_output".into(), vec![-1, text_width]),
        ],
        constants: vec![
            ("token_embedding".into(), vec![vocab_size, text_width], rng.take((vocab_size * text_width) as usize, 1.0)),
            ("position_embedding".into(), vec![77, text_width], rng.take((77 * text_width) as usize, 0.5)),
            ("projection".into(), vec![text_width, text_width], rng.take((text_width * text_width) as usize, 0.2)),
        ],
        nodes: vec![
            Node::new("Gather", &["token_embedding", "input_ids"], "tokens"),
            Node::new("Add", &["tokens", "position_embedding"], "embedded"),
            Node::new("MatMul", &["embedded", "projection"], "projected"),
            Node::new("Tanh", &["projected"], "last_hidden_state"),
            Node::new("ReduceMean", &["last_hidden_state"], "pooler_output")
                .attr("axes", Attr::Ints(vec![1]))
                .attr("keepdims", Attr::Int(0)),
        ],
        ..Graph::default()
    };
    write_component(dir, "text_encoder", &text, r#"{"hidden_size": 32, "max_position_embeddings": 77}"#);

    let unet = conv_unet(&mut rng, width, 4, Some(text_width));
    let conv = |input: &str, weights: &str, bias: &str, out: &str| {
        Node::new("Conv", &[input, weights, bias], out)
            .attr("kernel_shape", Attr::Ints(vec![3, 3]))
            .attr("pads", Attr::Ints(vec![1, 1, 1, 1]))
    };
    write_component(
        dir,
        "unet",
        &unet,
        r#"{"sample_size": 64, "in_channels": 4, "out_channels": 4, "cross_attention_dim": 32}"#,
    );

    let vae = r#"{"block_out_channels": [32, 32, 32, 32], "latent_channels": 4, "scaling_factor": 0.18215}"#;
    let decoder = Graph {
        inputs: vec![("latent_sample".into(), vec![-1, 4, -1, -1])],
        outputs: vec![("sample".into(), vec![-1, 3, -1, -1])],
        constants: vec![
            ("conv_in.weight".into(), vec![16, 4, 3, 3], rng.take(16 * 4 * 9, (1.0 / 36.0f32).sqrt())),
            ("conv_in.bias".into(), vec![16], rng.take(16, 0.1)),
            ("conv_out.weight".into(), vec![3, 16, 3, 3], rng.take(3 * 16 * 9, (1.0 / 144.0f32).sqrt())),
            ("conv_out.bias".into(), vec![3], rng.take(3, 0.1)),
            ("upscale".into(), vec![4], vec![1.0, 1.0, 8.0, 8.0]),
        ],
        nodes: vec![
            conv("latent_sample", "conv_in.weight", "conv_in.bias", "h0"),
            Node::new("Relu", &["h0"], "h1"),
            Node::new("Resize", &["h1", "", "upscale"], "h2"),
            conv("h2", "conv_out.weight", "conv_out.bias", "h3"),
            Node::new("Tanh", &["h3"], "sample"),
        ],
        ..Graph::default()
    };
    write_component(dir, "vae_decoder", &decoder, vae);
    let encoder = Graph {
        inputs: vec![("sample".into(), vec![-1, 3, -1, -1])],
        outputs: vec![("latent_parameters".into(), vec![-1, 8, -1, -1])],
        constants: vec![
            ("conv.weight".into(), vec![8, 3, 8, 8], rng.take(8 * 3 * 64, (1.0 / 192.0f32).sqrt())),
            ("conv.bias".into(), vec![8], rng.take(8, 0.1)),
        ],
        nodes: vec![Node::new("Conv", &["sample", "conv.weight", "conv.bias"], "latent_parameters")
            .attr("kernel_shape", Attr::Ints(vec![8, 8]))
            .attr("strides", Attr::Ints(vec![8, 8]))],
        ..Graph::default()
    };
    write_component(dir, "vae_encoder", &encoder, vae);
}

/// A tiny export in the CatVTON try-on layout at real sizes, for the try-on benchmark: the VAE
/// of [`tiny_sd`] (it scales by 8), DDIM, and a UNet of a few convolutions over 9 channels
/// conditioned on the timestep and nothing else, random weights. Its pictures mean nothing.
pub fn tiny_try_on(dir: &Path, width: i64) {
    tiny_sd(dir, width);
    for gone in ["text_encoder", "tokenizer"] {
        std::fs::remove_dir_all(dir.join(gone)).unwrap();
    }
    std::fs::write(dir.join("model_index.json"), r#"{"_class_name": "CatVTONPipeline"}"#).unwrap();
    std::fs::write(
        dir.join("scheduler/scheduler_config.json"),
        scheduler_config("DDIMScheduler", "epsilon", "leading"),
    )
    .unwrap();
    let unet = conv_unet(&mut Weights(0x7e57), width, 9, None);
    std::fs::remove_dir_all(dir.join("unet")).unwrap();
    write_component(dir, "unet", &unet, r#"{"sample_size": 64, "in_channels": 9, "out_channels": 4}"#);
}

/// A UNet of a few random convolutions at real sizes: `in_channels` in, 4 out, conditioned on the
/// timestep (a sine embedding per channel) and, with `text` (the hidden states' width), on the
/// mean of the text's hidden states; dynamic batch and size, weights in `model.onnx_data`.
fn conv_unet(rng: &mut Weights, w: i64, in_channels: i64, text: Option<i64>) -> Graph {
    let conv = |input: &str, weights: &str, bias: &str, out: &str| {
        Node::new("Conv", &[input, weights, bias], out)
            .attr("kernel_shape", Attr::Ints(vec![3, 3]))
            .attr("pads", Attr::Ints(vec![1, 1, 1, 1]))
    };
    let fan_in = (in_channels * 9) as f32;
    let frequencies: Vec<f32> = (0..w).map(|i| (-(i as f32) / w as f32 * 9.2).exp()).collect();
    let mut constants = vec![
        (
            "conv_in.weight".into(),
            vec![w, in_channels, 3, 3],
            rng.take((w * in_channels * 9) as usize, (1.0 / fan_in).sqrt()),
        ),
        ("conv_in.bias".into(), vec![w], rng.take(w as usize, 0.1)),
        ("mid.weight".into(), vec![w, w, 3, 3], rng.take((w * w * 9) as usize, (1.0 / (9 * w) as f32).sqrt())),
        ("mid.bias".into(), vec![w], rng.take(w as usize, 0.1)),
        ("conv_out.weight".into(), vec![4, w, 3, 3], rng.take((4 * w * 9) as usize, (1.0 / (9 * w) as f32).sqrt())),
        ("conv_out.bias".into(), vec![4], rng.take(4, 0.1)),
        ("time.frequencies".into(), vec![w], frequencies),
    ];
    let mut inputs = vec![("sample".into(), vec![-1, in_channels, -1, -1]), ("timestep".into(), vec![-1])];
    let mut nodes = vec![
        conv("sample", "conv_in.weight", "conv_in.bias", "h0"),
        Node::new("Cast", &["timestep"], "t").attr("to", Attr::Int(FLOAT)),
        Node::new("Unsqueeze", &["t", "axis_last"], "t_col"),
        Node::new("Mul", &["t_col", "time.frequencies"], "t_phase"),
        Node::new("Sin", &["t_phase"], "t_embedding"),
        Node::new("Reshape", &["t_embedding", "per_channel"], "t_channels"),
        Node::new("Add", &["h0", "t_channels"], "h1"),
    ];
    let conditioned = match text {
        Some(text_width) => {
            constants.push(("text.projection".into(), vec![text_width, w], rng.take((text_width * w) as usize, 0.3)));
            inputs.push(("encoder_hidden_states".into(), vec![-1, -1, text_width]));
            nodes.extend([
                Node::new("ReduceMean", &["encoder_hidden_states"], "text_mean")
                    .attr("axes", Attr::Ints(vec![1]))
                    .attr("keepdims", Attr::Int(0)),
                Node::new("MatMul", &["text_mean", "text.projection"], "text_embedding"),
                Node::new("Reshape", &["text_embedding", "per_channel"], "text_channels"),
                Node::new("Add", &["h1", "text_channels"], "h2"),
            ]);
            "h2"
        }
        None => "h1",
    };
    nodes.extend([
        Node::new("Relu", &[conditioned], "h3"),
        conv("h3", "mid.weight", "mid.bias", "h4"),
        Node::new("Relu", &["h4"], "h5"),
        conv("h5", "conv_out.weight", "conv_out.bias", "out_sample"),
    ]);
    Graph {
        inputs,
        int64_inputs: vec!["timestep".into()],
        outputs: vec![("out_sample".into(), vec![-1, 4, -1, -1])],
        constants,
        int_constants: vec![("per_channel".into(), vec![4], vec![-1, w, 1, 1]), ("axis_last".into(), vec![1], vec![1])],
        nodes,
        external_data: Some("model.onnx_data".into()),
        ..Graph::default()
    }
}

/// Seeded weights, uniform in ±`scale` (a 64-bit LCG: portable, so every machine writes the
/// same export).
struct Weights(u64);

impl Weights {
    fn take(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The try-on oracle is a CatVTON-layout export, and its UNet computes its stated answer:
    /// ε = (x − √ᾱ·x₀)/√(1−ᾱ) with x₀ = [k_top + m_top·k_bottom ; k_bottom] (written out here
    /// from the definition), where the runtime is installed.
    #[test]
    fn the_try_on_oracle_predicts_the_noise_to_the_dressed_person() {
        let dir = tempfile::tempdir().unwrap();
        let oracle = TryOnOracle::new(3, 2);
        oracle.write(dir.path());
        assert_eq!(crate::bring::inspect(dir.path()).unwrap().pipeline, crate::bring::Pipeline::TryOn);

        let Some(root) = crate::Cache::default_root() else { return };
        let Ok(env) = crate::runtime::init(&crate::Cache::new(root), false) else { return };
        let mut session =
            ort::session::Session::builder(env).unwrap().commit_from_file(dir.path().join("unet/model.onnx")).unwrap();
        let (w, h) = (3usize, 2usize);
        let plane = w * 2 * h;
        let value = |c: usize, k: usize| ((c * 31 + k * 7) as f32 * 0.37).sin();
        let mut sample = vec![0f32; 9 * plane];
        for c in 0..9 {
            for k in 0..plane {
                sample[c * plane + k] = match c {
                    4 => ((k % 2) == 0) as u8 as f32, // the mask: every other pixel
                    _ => value(c, k),
                };
            }
        }
        let t = 500i64;
        let inputs = ort::inputs![
            "sample" => ort::value::Tensor::from_array((vec![1usize, 9, 2 * h, w], sample.clone())).unwrap(),
            "timestep" => ort::value::Tensor::from_array((vec![1usize], vec![t])).unwrap(),
        ];
        let outputs = session.run(inputs).unwrap();
        let (_, got) = outputs["out_sample"].try_extract_tensor::<f32>().unwrap();

        let sigma = sigma_table(&oracle.scheduler)[t as usize] as f64;
        let (sa, sb) = (1.0 / (sigma * sigma + 1.0).sqrt(), sigma / (sigma * sigma + 1.0).sqrt());
        let half = w * h;
        for c in 0..4 {
            for k in 0..plane {
                let masked = |k: usize| sample[(5 + c) * plane + k] as f64;
                let x0 = if k < half { masked(k) + sample[4 * plane + k] as f64 * masked(k + half) } else { masked(k) };
                let expected = (sample[c * plane + k] as f64 - sa * x0) / sb;
                let off = (got[c * plane + k] as f64 - expected).abs();
                assert!(
                    off < 1e-3 * (1.0 + expected.abs()),
                    "channel {c} pixel {k}: {} where {expected}",
                    got[c * plane + k]
                );
            }
        }
    }
}
