//! The inputs and outputs an ONNX file declares — names, element types, shapes — read straight
//! from its protobuf without loading it, so a model folder a user brings can be checked before
//! it is accepted. The file is read field by field and everything else (the weights included) is
//! skipped by seeking, so a 500 MB text encoder costs a few reads.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    /// A named dimension (`batch`, `height`…), set at run time.
    Named(String),
    Unknown,
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    /// `TensorProto.DataType`: 1 float, 7 int64, 6 int32, 10 float16, …
    pub elem_type: i64,
    pub shape: Vec<Dim>,
}

impl Tensor {
    pub fn type_name(&self) -> &'static str {
        match self.elem_type {
            1 => "float32",
            6 => "int32",
            7 => "int64",
            10 => "float16",
            11 => "float64",
            9 => "bool",
            _ => "other",
        }
    }
}

/// Weights kept outside the graph file: which file, and which bytes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    pub tensor: String,
    pub location: String,
    pub offset: u64,
    pub length: u64,
}

/// What a graph takes and gives, and where its external weights are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphIo {
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
    pub external: Vec<External>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not an ONNX model: {0}")]
    Malformed(&'static str),
}

/// Reads the graph's declared inputs and outputs. Initializers listed as inputs (old exports do)
/// are left out, as ONNX Runtime does.
pub fn read(path: &Path) -> Result<GraphIo, ReadError> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let end = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let mut io = GraphIo::default();
    let mut initializers = Vec::new();
    let mut found_graph = false;
    while file.stream_position()? < end {
        let (field, wire) = key(&mut file)?;
        if field == 7 && wire == 2 {
            // ModelProto.graph
            let len = varint(&mut file)?;
            let graph_end = file.stream_position()? + len;
            found_graph = true;
            while file.stream_position()? < graph_end {
                let (field, wire) = key(&mut file)?;
                match (field, wire) {
                    (5, 2) => {
                        let (name, external) = initializer(&mut file)?;
                        io.external.extend(external);
                        initializers.push(name);
                    }
                    (11, 2) => io.inputs.push(value_info(&read_bytes(&mut file)?)?),
                    (12, 2) => io.outputs.push(value_info(&read_bytes(&mut file)?)?),
                    _ => skip(&mut file, wire)?,
                }
            }
        } else {
            skip(&mut file, wire)?;
        }
    }
    if !found_graph {
        return Err(ReadError::Malformed("no graph"));
    }
    io.inputs.retain(|t| !initializers.contains(&t.name));
    Ok(io)
}

fn key(r: &mut impl Read) -> Result<(u64, u8), ReadError> {
    let k = varint(r)?;
    Ok((k >> 3, (k & 7) as u8))
}

fn varint(r: &mut impl Read) -> Result<u64, ReadError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0u8];
        r.read_exact(&mut byte)?;
        value |= ((byte[0] & 0x7f) as u64) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ReadError::Malformed("a varint longer than ten bytes"))
}

/// Longest field read into memory (a name, a value info); larger ones are skipped, not read.
const MAX_READ: u64 = 1 << 20;

fn read_bytes(r: &mut impl Read) -> Result<Vec<u8>, ReadError> {
    let len = varint(r)?;
    if len > MAX_READ {
        return Err(ReadError::Malformed("a value info larger than 1 MiB"));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn skip<R: Read + Seek>(r: &mut R, wire: u8) -> Result<(), ReadError> {
    match wire {
        0 => {
            varint(r)?;
        }
        1 => {
            r.seek(SeekFrom::Current(8))?;
        }
        2 => {
            let len = varint(r)?;
            r.seek(SeekFrom::Current(len as i64))?;
        }
        5 => {
            r.seek(SeekFrom::Current(4))?;
        }
        _ => return Err(ReadError::Malformed("an unknown wire type")),
    }
    Ok(())
}

/// A TensorProto's name (field 8) and external data (13: key/value entries), its data skipped.
fn initializer<R: Read + Seek>(r: &mut R) -> Result<(String, Option<External>), ReadError> {
    let len = varint(r)?;
    let end = r.stream_position()? + len;
    let mut name = String::new();
    let mut entries = Vec::new();
    while r.stream_position()? < end {
        let (field, wire) = key(r)?;
        match (field, wire) {
            (8, 2) => name = String::from_utf8_lossy(&read_bytes(r)?).into_owned(),
            (13, 2) => {
                let entry = read_bytes(r)?;
                let (mut k, mut v) = (String::new(), String::new());
                for (field, value) in fields(&entry)? {
                    match (field, value) {
                        (1, Field::Bytes(b)) => k = String::from_utf8_lossy(b).into_owned(),
                        (2, Field::Bytes(b)) => v = String::from_utf8_lossy(b).into_owned(),
                        _ => {}
                    }
                }
                entries.push((k, v));
            }
            _ => skip(r, wire)?,
        }
    }
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let external = get("location").map(|location| External {
        tensor: name.clone(),
        location,
        offset: get("offset").and_then(|v| v.parse().ok()).unwrap_or(0),
        length: get("length").and_then(|v| v.parse().ok()).unwrap_or(0),
    });
    Ok((name, external))
}

/// The fields of one message held in memory: (field, wire, varint value or bytes).
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ReadError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        let value = match wire {
            0 => Field::Varint(varint(&mut buf)?),
            2 => {
                let len = varint(&mut buf)? as usize;
                if len > buf.len() {
                    return Err(ReadError::Malformed("a field past the end of its message"));
                }
                let (bytes, rest) = buf.split_at(len);
                buf = rest;
                Field::Bytes(bytes)
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if n > buf.len() {
                    return Err(ReadError::Malformed("a field past the end of its message"));
                }
                buf = &buf[n..];
                Field::Fixed
            }
            _ => return Err(ReadError::Malformed("an unknown wire type")),
        };
        out.push((field, value));
    }
    Ok(out)
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// ValueInfoProto → name, and TypeProto.tensor_type's element type and shape.
fn value_info(buf: &[u8]) -> Result<Tensor, ReadError> {
    let mut tensor = Tensor { name: String::new(), elem_type: 0, shape: Vec::new() };
    for (field, value) in fields(buf)? {
        match (field, value) {
            (1, Field::Bytes(b)) => tensor.name = String::from_utf8_lossy(b).into_owned(),
            (2, Field::Bytes(typ)) => {
                for (field, value) in fields(typ)? {
                    if let (1, Field::Bytes(tensor_type)) = (field, value) {
                        for (field, value) in fields(tensor_type)? {
                            match (field, value) {
                                (1, Field::Varint(t)) => tensor.elem_type = t as i64,
                                (2, Field::Bytes(shape)) => tensor.shape = dims(shape)?,
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(tensor)
}

fn dims(shape: &[u8]) -> Result<Vec<Dim>, ReadError> {
    let mut out = Vec::new();
    for (field, value) in fields(shape)? {
        if let (1, Field::Bytes(dim)) = (field, value) {
            let mut d = Dim::Unknown;
            for (field, value) in fields(dim)? {
                match (field, value) {
                    (1, Field::Varint(v)) => d = Dim::Fixed(v as i64),
                    (2, Field::Bytes(p)) => d = Dim::Named(String::from_utf8_lossy(p).into_owned()),
                    _ => {}
                }
            }
            out.push(d);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_written_by_the_tiny_writer_reads_back_its_inputs_and_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, crate::tiny::isnet_stand_in().to_onnx()).unwrap();
        let io = read(&path).unwrap();
        let input = &io.inputs[0];
        assert_eq!((input.name.as_str(), input.type_name()), ("input", "float32"));
        assert_eq!(input.shape, [Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(1024), Dim::Fixed(1024)]);
        assert_eq!(io.inputs.len(), 1, "the constants are initializers, not inputs");
        assert_eq!(io.outputs[0].name, "output");
        assert_eq!(io.outputs[0].shape, [Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(1024), Dim::Fixed(1024)]);
    }

    #[test]
    fn the_real_models_declare_what_their_manifests_say() {
        // The fetched default models, when this machine has them (the test suite fetches them).
        let Some(root) = crate::Cache::default_root() else { return };
        let cache = crate::Cache::new(root);
        let mut checked = 0;
        for m in crate::manifest::all().into_iter().filter(|m| m.default) {
            let file = cache.model_file(&m.id);
            if !file.is_file() {
                continue;
            }
            let io = read(&file).unwrap_or_else(|e| panic!("{}: {e}", m.id));
            for declared in &m.inputs {
                let found = io.inputs.iter().find(|t| t.name == declared.name);
                assert!(found.is_some(), "{}: input {} not in {:?}", m.id, declared.name, io.inputs);
            }
            assert!(!io.outputs.is_empty(), "{}", m.id);
            checked += 1;
        }
        eprintln!("{checked} installed models read");
    }

    #[test]
    fn truncated_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = crate::tiny::isnet_stand_in().to_onnx();
        let cut = dir.path().join("cut.onnx");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(read(&cut).is_err());
        let text = dir.path().join("text.onnx");
        std::fs::write(&text, b"{\"not\": \"onnx\"}").unwrap();
        assert!(read(&text).is_err());
    }
}
