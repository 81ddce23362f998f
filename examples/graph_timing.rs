//! Times the graph runner on the real models in `../shared/models` (natively):
//! `cargo run --release --example graph_timing`.
use std::time::Instant;
use wasmnn::graph::tokenizer::WordPiece;
use wasmnn::graph::{Model, Options, Tensor};

fn time(label: &str, reps: usize, mut f: impl FnMut()) {
    f(); // compile + warm up
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{label}: best of {reps}: {:.3} ms", best * 1e3);
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if !dir.is_dir() {
        eprintln!("{} not found", dir.display());
        return;
    }
    for fuse in [false, true] {
        let opts = Options {
            fuse,
            ..Options::default()
        };
        let bytes = std::fs::read(dir.join("mobilenetv3-textdir/model.onnx")).unwrap();
        let mut m = Model::from_onnx(&bytes).unwrap().with_options(opts.clone());
        let x = Tensor::from_f32(&[1, 3, 48, 192], vec![0.5; 3 * 48 * 192]).unwrap();
        let s = m
            .session(&[wasmnn::graph::TensorSpec::new(
                wasmnn::graph::DType::F32,
                &[1, 3, 48, 192],
            )])
            .unwrap();
        println!(
            "mobilenet fuse={fuse}: {} steps, arena {} KiB",
            s.op_kinds().len(),
            s.peak_bytes() / 1024
        );
        time(&format!("mobilenet [1,3,48,192] fuse={fuse}"), 20, || {
            m.run(&[x.view()]).unwrap();
        });

        let bytes = std::fs::read(dir.join("minilm-l6-v2/model.onnx")).unwrap();
        let vocab = std::fs::read_to_string(dir.join("minilm-l6-v2/vocab.txt")).unwrap();
        let tok = WordPiece::from_vocab(&vocab, 512).unwrap();
        let b = tok
            .encode_batch(&["The quick brown fox jumps over the lazy dog."])
            .unwrap();
        let mut m = Model::from_onnx(&bytes).unwrap().with_options(opts);
        let inputs = [
            b.input_ids.view(),
            b.attention_mask.view(),
            b.token_type_ids.view(),
        ];
        let s = m
            .session(
                &inputs
                    .iter()
                    .map(|t| wasmnn::graph::TensorSpec::new(t.dtype(), t.shape))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        println!(
            "minilm fuse={fuse}: {} steps, arena {} KiB",
            s.op_kinds().len(),
            s.peak_bytes() / 1024
        );
        time(
            &format!("minilm [1,{}] fuse={fuse}", b.input_ids.shape()[1]),
            20,
            || {
                m.run(&inputs).unwrap();
            },
        );
    }
}
