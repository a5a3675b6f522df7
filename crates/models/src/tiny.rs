//! Tiny ONNX models the project builds itself, whose right output is known exactly: stand-ins
//! in a real model's layout (its tensor names and shapes) for code paths whose real weights
//! cannot run in a test (an opt-in model, a user's export). Written as protobuf by hand: an
//! ONNX file is a `ModelProto`, and the few fields a small graph needs are listed here with
//! their field numbers from `onnx.proto`.

use std::path::Path;

/// A protobuf message under construction.
#[derive(Debug, Default, Clone)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }

    fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }

    fn bytes(mut self, field: u32, b: &[u8]) -> Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    fn string(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }

    fn message(self, field: u32, m: &Message) -> Self {
        self.bytes(field, &m.0)
    }
}

/// `TensorProto.DataType.FLOAT`.
const FLOAT: i64 = 1;

/// `TensorProto.DataType.INT64`.
pub const INT64: i64 = 7;

/// A tensor's name, element type and shape, for graph inputs and outputs.
fn value_info(name: &str, elem_type: i64, shape: &[i64]) -> Message {
    let mut dims = Message::default();
    for &d in shape {
        dims = dims.message(1, &Message::default().int(1, d)); // TensorShapeProto.dim.dim_value
    }
    let tensor = Message::default().int(1, elem_type).message(2, &dims); // TypeProto.Tensor
    let typ = Message::default().message(1, &tensor); // TypeProto.tensor_type
    Message::default().string(1, name).message(2, &typ) // ValueInfoProto
}

/// A node attribute.
#[derive(Debug, Clone)]
pub enum Attr {
    Ints(Vec<i64>),
    Int(i64),
    Float(f32),
}

/// One operator of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub op: &'static str,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(&'static str, Attr)>,
}

impl Node {
    pub fn new(op: &'static str, inputs: &[&str], output: &str) -> Self {
        Node {
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.to_string()],
            attrs: Vec::new(),
        }
    }

    pub fn attr(mut self, name: &'static str, value: Attr) -> Self {
        self.attrs.push((name, value));
        self
    }
}

/// A graph: inputs and outputs with fixed shapes (float unless `int64_inputs` names them),
/// constant float tensors, nodes. With `external_data`, the constants' bytes go to that side
/// file (as exports of large models do) instead of inside the graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub int64_inputs: Vec<String>,
    pub external_data: Option<String>,
    pub inputs: Vec<(String, Vec<i64>)>,
    pub outputs: Vec<(String, Vec<i64>)>,
    pub constants: Vec<(String, Vec<i64>, Vec<f32>)>,
    pub nodes: Vec<Node>,
}

impl Graph {
    /// The `.onnx` bytes (IR version 8, the default opset 13); with `external_data`, use
    /// [`Graph::to_onnx_with_data`].
    pub fn to_onnx(&self) -> Vec<u8> {
        self.to_onnx_with_data().0
    }

    /// The `.onnx` bytes and the external data file's bytes (empty without `external_data`).
    pub fn to_onnx_with_data(&self) -> (Vec<u8>, Vec<u8>) {
        let mut side = Vec::new();
        let mut graph = Message::default();
        for (i, node) in self.nodes.iter().enumerate() {
            let mut n = Message::default();
            for input in &node.inputs {
                n = n.string(1, input);
            }
            for output in &node.outputs {
                n = n.string(2, output);
            }
            n = n.string(3, &format!("n{i}")).string(4, node.op);
            for (name, value) in &node.attrs {
                let a = Message::default().string(1, name);
                // AttributeProto: f = 2, i = 3, ints = 8, type = 20 (FLOAT 1, INT 2, INTS 7).
                let a = match value {
                    Attr::Float(f) => {
                        let mut a = a;
                        a.key(2, 5);
                        a.0.extend_from_slice(&f.to_le_bytes());
                        a.int(20, 1)
                    }
                    Attr::Int(v) => a.int(3, *v).int(20, 2),
                    Attr::Ints(vs) => vs.iter().fold(a, |a, v| a.int(8, *v)).int(20, 7),
                };
                n = n.message(5, &a);
            }
            graph = graph.message(1, &n);
        }
        graph = graph.string(2, "tiny");
        for (name, dims, data) in &self.constants {
            let mut t = Message::default();
            for &d in dims {
                t = t.int(1, d);
            }
            t = t.int(2, FLOAT);
            let raw: Vec<u8> = data.iter().flat_map(|f| f.to_le_bytes()).collect();
            t = t.string(8, name);
            t = match &self.external_data {
                // external_data (13): location, offset, length; data_location (14) = EXTERNAL.
                Some(file) => {
                    let entry = |k: &str, v: &str| Message::default().string(1, k).string(2, v);
                    let t = t
                        .message(13, &entry("location", file))
                        .message(13, &entry("offset", &side.len().to_string()))
                        .message(13, &entry("length", &raw.len().to_string()));
                    side.extend_from_slice(&raw);
                    t.int(14, 1)
                }
                None => t.bytes(9, &raw), // raw_data
            };
            graph = graph.message(5, &t); // GraphProto.initializer
        }
        for (name, shape) in &self.inputs {
            let elem_type = if self.int64_inputs.contains(name) { INT64 } else { FLOAT };
            graph = graph.message(11, &value_info(name, elem_type, shape));
        }
        for (name, shape) in &self.outputs {
            graph = graph.message(12, &value_info(name, FLOAT, shape));
        }
        let opset = Message::default().string(1, "").int(2, 13);
        let model = Message::default().int(1, 8).string(2, "figur-tiny").message(7, &graph).message(8, &opset).0;
        (model, side)
    }
}

/// A stand-in for ISNet (`models/isnet.toml`): the same input `input` [1,3,1024,1024] and
/// output `output` [1,1,1024,1024], computing `0.5 − 4 · mean over channels`. On the model's
/// input ((x − 128) / 256) a dark garment (mean ≈ −0.25) comes out ≥ 1 and light paper
/// (mean ≈ 0.43) ≤ −1: after the engine's clamp, exactly 1 and 0.
pub fn isnet_stand_in() -> Graph {
    let side = 1024;
    Graph {
        inputs: vec![("input".into(), vec![1, 3, side, side])],
        outputs: vec![("output".into(), vec![1, 1, side, side])],
        constants: vec![("scale".into(), vec![], vec![-4.0]), ("offset".into(), vec![], vec![0.5])],
        nodes: vec![
            Node::new("ReduceMean", &["input"], "mean")
                .attr("axes", Attr::Ints(vec![1]))
                .attr("keepdims", Attr::Int(1)),
            Node::new("Mul", &["mean", "scale"], "scaled"),
            Node::new("Add", &["scaled", "offset"], "output"),
        ],
        ..Graph::default()
    }
}

// Tiny exports in Optimum's diffusers layout, for the tests of the code that reads them (test
// support: they panic on an I/O error).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_encode_as_protobuf_does() {
        let m = Message::default().int(1, 300).string(2, "ab");
        // 300 = 0b10_0101100 → ac 02; field 1 varint key 08; field 2 bytes key 12.
        assert_eq!(m.0, vec![0x08, 0xac, 0x02, 0x12, 0x02, b'a', b'b']);
        let negative = Message::default().int(1, -1);
        assert_eq!(negative.0.len(), 1 + 10, "negative int64s take ten bytes");
    }
}
