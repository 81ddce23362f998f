//! The `.safetensors` reader on hand-made files: every tensor type, and each way a file can be
//! malformed giving a typed error (never a panic, never an allocation beyond the file).
use wasm_bindgen_test::wasm_bindgen_test;
use wasmnn::graph::safetensors::{SafeTensors, StDType};
use wasmnn::graph::GraphError;

/// A file from a header (JSON text) and the data section.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(data);
    f
}

fn malformed(bytes: &[u8], why: &str) {
    match SafeTensors::parse(bytes) {
        Err(GraphError::Malformed { why: w }) => assert!(w.contains(why), "{w:?} lacks {why:?}"),
        other => panic!("expected Malformed({why}), got {other:?}"),
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn reads_every_dtype() {
    let header = r#"{"__metadata__":{"format":"pt"},
        "f":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
        "i":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]},
        "h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},
        "b":{"dtype":"BF16","shape":[1],"data_offsets":[22,24]},
        "q":{"dtype":"I8","shape":[2],"data_offsets":[24,26]},
        "u":{"dtype":"U8","shape":[],"data_offsets":[26,27]},
        "t":{"dtype":"BOOL","shape":[2],"data_offsets":[27,29]},
        "w":{"dtype":"I32","shape":[1],"data_offsets":[29,33]},
        "e":{"dtype":"F32","shape":[0,4],"data_offsets":[33,33]}}"#;
    let mut data = Vec::new();
    data.extend_from_slice(&1.5f32.to_le_bytes());
    data.extend_from_slice(&(-2.0f32).to_le_bytes());
    data.extend_from_slice(&(-7i64).to_le_bytes());
    data.extend_from_slice(&[0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]); // f16: 1, -2, 2^-24
    data.extend_from_slice(&[0x80, 0x3f]); // bf16: 1.0
    data.extend_from_slice(&[0xff, 0x05, 200, 0, 3]); // i8 -1, 5; u8 200; bool 0, 3
    data.extend_from_slice(&123_456i32.to_le_bytes());
    let bytes = file(header, &data);
    let st = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(st.metadata().get("format").map(String::as_str), Some("pt"));
    assert_eq!(
        st.names().collect::<Vec<_>>(),
        ["b", "e", "f", "h", "i", "q", "t", "u", "w"]
    );
    assert_eq!(st.info("f").unwrap().dtype, StDType::F32);
    assert_eq!(st.tensor("f").unwrap().as_f32().unwrap(), &[1.5, -2.0]);
    let i = st.tensor("i").unwrap();
    assert_eq!(
        (i.shape(), i.as_i64().unwrap()),
        (&[1usize, 1][..], &[-7i64][..])
    );
    let h = st.tensor("h").unwrap();
    assert_eq!(h.as_f32().unwrap(), &[1.0, -2.0, 2f32.powi(-24)]);
    assert_eq!(st.tensor("b").unwrap().as_f32().unwrap(), &[1.0]);
    assert_eq!(st.tensor("e").unwrap().shape(), &[0, 4]);
    assert_eq!(st.info("u").unwrap().data, &[200]);
    assert_eq!(st.info("t").unwrap().data, &[0, 3]);
    assert_eq!(st.info("w").unwrap().data, &123_456i32.to_le_bytes());
    assert_eq!(st.tensor("q").unwrap().dtype().name(), "i8");
    assert_eq!(st.tensor("t").unwrap().dtype().name(), "bool");
    assert!(matches!(
        st.tensor("missing"),
        Err(GraphError::Malformed { .. })
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn malformed_files_are_errors() {
    let ok = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    malformed(&[], "shorter than");
    malformed(&[1, 0, 0], "shorter than");
    // Header length beyond the file, and beyond the limit (no allocation of that size).
    let mut long = file(ok, &[0; 8]);
    long[..8].copy_from_slice(&1000u64.to_le_bytes());
    malformed(&long, "exceeds");
    long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    malformed(&long, "over");
    malformed(&file("{\"w\": ", &[]), "header");
    malformed(&file("[1, 2]", &[]), "not a JSON object");
    malformed(&file(ok, &[0; 7]), "outside");
    let cases = [
        (r#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, "dtype"),
        (r#"{"w":{"dtype":"F32","data_offsets":[0,8]}}"#, "shape"),
        (
            r#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
            "shape entry",
        ),
        (r#"{"w":{"dtype":"F32","shape":[2]}}"#, "data_offsets"),
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#,
            "two entries",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            "outside",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}"#,
            "outside",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            "needs 12 bytes",
        ),
        (
            r#"{"w":{"dtype":"F32","shape":[65536,65536,65536,65536,4],"data_offsets":[0,8]}}"#,
            "too large",
        ),
        (
            r#"{"__metadata__":[1],"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            "__metadata__",
        ),
        (r#"{"__metadata__":{"a":1}}"#, "not a string"),
    ];
    for (header, why) in cases {
        malformed(&file(header, &[0; 8]), why);
    }
    let f64_file = file(
        r#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    assert!(matches!(
        SafeTensors::parse(&f64_file),
        Err(GraphError::Unsupported { .. })
    ));
}

/// Every truncation and every single-byte change of a valid file parses or errors; none panics.
#[wasm_bindgen_test(unsupported = test)]
fn corrupted_files_never_panic() {
    let good = file(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#,
        &[7; 16],
    );
    for n in 0..good.len() {
        let _ = SafeTensors::parse(&good[..n]);
    }
    for i in 0..good.len() {
        for v in [0u8, b'9', b'"', b'}', 0xff] {
            let mut bad = good.clone();
            bad[i] = v;
            if let Ok(st) = SafeTensors::parse(&bad) {
                for name in st.names() {
                    let _ = st.tensor(name);
                }
            }
        }
    }
}
