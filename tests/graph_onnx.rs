//! ONNX import: hand-made files (protobuf written by the test), malformed and unsupported
//! input, and a mutation smoke test (a cheap, deterministic cousin of the cargo-fuzz target).
mod graph_common;

use graph_common::{attr_int, model, node, tensor_f32, value_info, Pb};
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::graph::{onnx, GraphError, Model, Options, Tensor, TensorSpec};

/// x [n, 2] -> MatMul(w) -> Add(b) -> Relu -> y
fn small_model(relu_attr: Option<Pb>) -> Vec<u8> {
    let w = tensor_f32("w", &[2, 3], &[1.0, 2.0, 3.0, -4.0, -5.0, -6.0]);
    let b = tensor_f32("b", &[3], &[0.5, 0.5, 0.5]);
    let graph = Pb::new()
        .msg(1, node("MatMul", "mm", &["x", "w"], &["h"], vec![]))
        .msg(1, node("Add", "add", &["h", "b"], &["g"], vec![]))
        .msg(
            1,
            node(
                "Relu",
                "relu",
                &["g"],
                &["y"],
                relu_attr.into_iter().collect(),
            ),
        )
        .str(2, "g")
        .msg(5, w)
        .msg(5, b)
        .msg(11, value_info("x", 1, &[None, Some(2)]))
        .msg(12, value_info("y", 1, &[None, Some(3)]));
    model(17, graph)
}

#[wasm_bindgen_test(unsupported = test)]
fn hand_made_model_runs() {
    let mut m = Model::from_onnx(&small_model(None)).unwrap();
    assert_eq!(m.input_names(), ["x"]);
    let x = Tensor::from_f32(&[2, 2], vec![1.0, 1.0, 2.0, 0.0]).unwrap();
    let y = m.run(&[x.view()]).unwrap();
    // [1,1] W = [-3,-3,-3] + 0.5 -> relu 0;  [2,0] W = [2,4,6] + 0.5
    assert_eq!(y[0].as_f32().unwrap(), &[0.0, 0.0, 0.0, 2.5, 4.5, 6.5]);
    // Declared shape is checked: the second dimension must be 2.
    let bad = Tensor::from_f32(&[1, 3], vec![0.0; 3]).unwrap();
    assert!(matches!(
        m.run(&[bad.view()]),
        Err(GraphError::Invalid { .. })
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn garbage_is_malformed() {
    for bytes in [&b"\xff\xff\xff"[..], b"\x0a\x80", b"", b"\x3a\x05\x0a\x03"] {
        match onnx::import(bytes) {
            Err(GraphError::Malformed { .. }) => {}
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn unsupported_op_and_attribute_name_the_node() {
    let graph = Pb::new()
        .msg(1, node("Loop", "my_loop", &["x"], &["y"], vec![]))
        .msg(11, value_info("x", 1, &[Some(1)]))
        .msg(12, value_info("y", 1, &[Some(1)]));
    let err = Model::from_onnx(&model(17, graph)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("my_loop") && msg.contains("Loop"), "{msg}");

    let err = Model::from_onnx(&small_model(Some(attr_int("alpha", 2)))).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, GraphError::Unsupported { .. })
            && msg.contains("relu")
            && msg.contains("alpha"),
        "{msg}"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn tensor_sizes_are_checked_before_allocating() {
    // Declares 10^9 x 10^9 floats but carries 4 bytes: refused without allocating.
    let huge = Pb::new()
        .int(1, 1_000_000_000)
        .int(1, 1_000_000_000)
        .int(2, 1)
        .str(8, "w")
        .bytes(9, &[0, 0, 0, 0]);
    let overflow = Pb::new()
        .int(1, i64::MAX)
        .int(1, i64::MAX)
        .int(2, 1)
        .str(8, "w");
    let negative = Pb::new().int(1, -1).int(2, 1).str(8, "w");
    for t in [huge, overflow, negative] {
        let graph = Pb::new()
            .msg(5, t)
            .msg(1, node("Relu", "r", &["w"], &["y"], vec![]))
            .msg(12, value_info("y", 1, &[]));
        assert!(matches!(
            onnx::import(&model(17, graph)),
            Err(GraphError::Malformed { .. })
        ));
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn external_data_needs_a_source_and_a_safe_path() {
    let ext = |location: &str| {
        let entry = Pb::new().str(1, "location").str(2, location);
        let t = Pb::new()
            .int(1, 2)
            .int(2, 1)
            .str(8, "w")
            .msg(13, entry)
            .int(14, 1);
        let graph = Pb::new()
            .msg(5, t)
            .msg(1, node("Relu", "r", &["w"], &["y"], vec![]))
            .msg(12, value_info("y", 1, &[]));
        model(17, graph)
    };
    assert!(matches!(
        onnx::import(&ext("weights.bin")),
        Err(GraphError::Unsupported { .. })
    ));
    let dir = onnx::Directory(".".into());
    for bad in ["../secret", "/etc/passwd", "a/../../b"] {
        assert!(matches!(
            onnx::import_with(&ext(bad), Some(&dir)),
            Err(GraphError::Malformed { .. })
        ));
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn external_data_is_read_from_the_directory() {
    let dir = std::env::temp_dir().join(format!("wasmnn-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = [7.0f32, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(dir.join("w.bin"), [&[0u8; 4][..], &data].concat()).unwrap();
    let entries = [("location", "w.bin"), ("offset", "4"), ("length", "8")];
    let mut t = Pb::new().int(1, 2).int(2, 1).str(8, "w").int(14, 1);
    for (k, v) in entries {
        t = t.msg(13, Pb::new().str(1, k).str(2, v));
    }
    let graph = Pb::new()
        .msg(5, t)
        .msg(1, node("Relu", "r", &["w"], &["y"], vec![]))
        .msg(12, value_info("y", 1, &[Some(2)]));
    let g = onnx::import_with(&model(17, graph), Some(&onnx::Directory(dir.clone()))).unwrap();
    let mut m = Model::from_graph(g).unwrap();
    assert_eq!(m.run(&[]).unwrap()[0].as_f32().unwrap(), &[7.0, 0.0]);
    std::fs::remove_dir_all(dir).ok();
}

/// Deterministic byte mutations of a valid file: import, compile and run must never panic.
#[wasm_bindgen_test(unsupported = test)]
fn mutated_files_never_panic() {
    let base = small_model(None);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let limits = Options {
        max_tensor_bytes: 1 << 16,
        max_arena_bytes: 1 << 20,
        fuse: true,
        ..Options::default()
    };
    for _ in 0..2000 {
        let mut bytes = base.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[i] = next() as u8,
                1 => bytes.truncate(i),
                _ => bytes.insert(i, next() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Ok(m) = Model::from_onnx(&bytes) {
            let m = m.with_options(limits.clone());
            let spec = TensorSpec::new(wasmnn::graph::DType::F32, &[2, 2]);
            if let Ok(mut s) = m.session(&[spec]) {
                let x = Tensor::from_f32(&[2, 2], vec![1.0; 4]).unwrap();
                let _ = s.run(&[x.view()]);
            }
        }
    }
}
