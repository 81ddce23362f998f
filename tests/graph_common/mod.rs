//! Helpers for the graph-runner tests: finding `../shared/models` and MiniLM in it, reading
//! `.npy` files, writing ONNX files by hand.
#![allow(dead_code)]

// Only the native helpers read files: wasm test binaries embed their model data.
#[cfg(not(target_arch = "wasm32"))]
use std::path::PathBuf;
#[cfg(not(target_arch = "wasm32"))]
use wasmnn::graph::tokenizer::{Batch, WordPiece};

/// `../shared/models` beside the repository, or `None` (with a visible message) when absent.
#[cfg(not(target_arch = "wasm32"))]
pub fn models_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED {test}: {} not found (real-model data is absent)",
            dir.display()
        );
        None
    }
}

/// MiniLM-L6-v2 as the MiniLM tests start from it: its files, and its reference sentences
/// tokenized by our tokenizer (`batch`, three sentences padded to one length).
#[cfg(not(target_arch = "wasm32"))]
pub struct MiniLm {
    /// `../shared/models/minilm-l6-v2`.
    pub dir: PathBuf,
    /// `model.onnx`.
    pub onnx: Vec<u8>,
    /// `reference.json`.
    pub reference: serde_json::Value,
    /// `vocab.txt`.
    pub vocab: String,
    /// The tokenizer of `vocab` (sequences of at most 512 tokens).
    pub tok: WordPiece,
    /// `reference["sentences"]`.
    pub sentences: Vec<String>,
    /// `sentences` tokenized by `tok`.
    pub batch: Batch,
}

/// [`MiniLm`] from `../shared/models`, or `None` (with a visible message) when absent.
#[cfg(not(target_arch = "wasm32"))]
pub fn minilm(test: &str) -> Option<MiniLm> {
    let dir = models_dir(test)?.join("minilm-l6-v2");
    let onnx = std::fs::read(dir.join("model.onnx")).unwrap();
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    let tok = WordPiece::from_vocab(&vocab, 512).unwrap();
    let sentences: Vec<String> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let batch = tok.encode_batch(&refs).unwrap();
    Some(MiniLm {
        dir,
        onnx,
        reference,
        vocab,
        tok,
        sentences,
        batch,
    })
}

/// A little-endian f32 `.npy` file (format 1.0): shape and data.
pub fn read_npy_f32(bytes: &[u8]) -> (Vec<usize>, Vec<f32>) {
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not an npy file");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(
        header.contains("'descr': '<f4'"),
        "not little-endian f32: {header}"
    );
    assert!(header.contains("'fortran_order': False"));
    let open = header.find("'shape': (").unwrap() + "'shape': (".len();
    let close = open + header[open..].find(')').unwrap();
    let shape: Vec<usize> = header[open..close]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    (shape, data)
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A minimal protobuf writer for hand-made ONNX files in tests.
#[derive(Clone, Default)]
pub struct Pb(pub Vec<u8>);

impl Pb {
    pub fn new() -> Self {
        Self(Vec::new())
    }
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                break;
            }
            self.0.push(b | 0x80);
        }
    }
    pub fn int(mut self, tag: u32, v: i64) -> Self {
        self.varint((tag as u64) << 3);
        self.varint(v as u64);
        self
    }
    pub fn float(mut self, tag: u32, v: f32) -> Self {
        self.varint(((tag as u64) << 3) | 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(mut self, tag: u32, b: &[u8]) -> Self {
        self.varint(((tag as u64) << 3) | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    pub fn str(self, tag: u32, s: &str) -> Self {
        self.bytes(tag, s.as_bytes())
    }
    pub fn msg(self, tag: u32, m: Pb) -> Self {
        self.bytes(tag, &m.0)
    }
}

/// ONNX `ValueInfoProto` for a float tensor with the given dims (`None` = symbolic).
pub fn value_info(name: &str, elem_type: i64, dims: &[Option<i64>]) -> Pb {
    let mut shape = Pb::new();
    for d in dims {
        shape = shape.msg(
            1,
            match d {
                Some(v) => Pb::new().int(1, *v),
                None => Pb::new().str(2, "n"),
            },
        );
    }
    Pb::new().str(1, name).msg(
        2,
        Pb::new().msg(1, Pb::new().int(1, elem_type).msg(2, shape)),
    )
}

/// ONNX `TensorProto` with raw little-endian f32 data.
pub fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> Pb {
    let mut t = Pb::new();
    for &d in dims {
        t = t.int(1, d);
    }
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.int(2, 1).str(8, name).bytes(9, &raw)
}

/// ONNX `NodeProto`.
pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<Pb>) -> Pb {
    let mut n = Pb::new();
    for i in inputs {
        n = n.str(1, i);
    }
    for o in outputs {
        n = n.str(2, o);
    }
    n = n.str(3, name).str(4, op);
    for a in attrs {
        n = n.msg(5, a);
    }
    n
}

/// An int attribute.
pub fn attr_int(name: &str, v: i64) -> Pb {
    Pb::new().str(1, name).int(20, 2).int(3, v)
}

/// A `ModelProto` at `opset` around a graph.
pub fn model(opset: i64, graph: Pb) -> Vec<u8> {
    Pb::new()
        .int(1, 8)
        .msg(8, Pb::new().str(1, "").int(2, opset))
        .msg(7, graph)
        .0
}
