//! Tiny ONNX models the project builds itself, whose right output is known exactly: stand-ins
//! in a real model's layout (its tensor names and shapes) for code paths whose real weights
//! cannot run in a test (an opt-in model, a user's export). Written as protobuf by hand: an
//! ONNX file is a `ModelProto`, and the few fields a small graph needs are listed here with
//! their field numbers from `onnx.proto`.

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

/// `TensorProto.DataType`s.
pub const FLOAT: i64 = 1;
pub const INT32: i64 = 6;
pub const INT64: i64 = 7;
pub const FLOAT16: i64 = 10;

/// A tensor's name, element type and shape (−1: a dynamic dimension), for graph inputs and
/// outputs.
fn value_info(name: &str, elem_type: i64, shape: &[i64]) -> Message {
    let mut dims = Message::default();
    for (i, &d) in shape.iter().enumerate() {
        // TensorShapeProto.dim: dim_value (1) or dim_param (2).
        let dim = match d {
            -1 => Message::default().string(2, &format!("{name}_dim{i}")),
            d => Message::default().int(1, d),
        };
        dims = dims.message(1, &dim);
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

/// A graph: inputs and outputs with fixed or dynamic (−1) shapes (float unless `int64_inputs`
/// or `types` says otherwise), constant tensors, nodes. With `external_data`, the float
/// constants' bytes go to that side file (as exports of large models do) instead of inside the
/// graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub int64_inputs: Vec<String>,
    /// Element types (`FLOAT16`, `INT32`…) of inputs and outputs that are not float.
    pub types: Vec<(String, i64)>,
    /// Constant int64 tensors (shapes, indices, axes).
    pub int_constants: Vec<(String, Vec<i64>, Vec<i64>)>,
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
        for (name, dims, data) in &self.int_constants {
            let t = dims.iter().fold(Message::default(), |t, &d| t.int(1, d)).int(2, INT64);
            let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            graph = graph.message(5, &t.string(8, name).bytes(9, &raw));
        }
        let elem_type = |name: &String| {
            let named = self.types.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
            named.unwrap_or(if self.int64_inputs.contains(name) { INT64 } else { FLOAT })
        };
        for (name, shape) in &self.inputs {
            graph = graph.message(11, &value_info(name, elem_type(name), shape));
        }
        for (name, shape) in &self.outputs {
            graph = graph.message(12, &value_info(name, elem_type(name), shape));
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

pub mod diffusion;
pub use diffusion::{catvton_export, export_component, optimum_export, pass_through};

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
