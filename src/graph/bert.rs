//! A BERT sentence encoder built from a `.safetensors` checkpoint (Hugging Face `BertModel`
//! names, as in all-MiniLM-L6-v2), written with [`GraphBuilder`] in the same ONNX operators an
//! exporter would produce, so the usual passes (GELU, `Linear`, residual and attention fusion)
//! apply and it runs like the ONNX model:
//!
//! - embeddings: `word[input_ids] + position[0..seq] + token_type[token_type_ids]`, LayerNorm;
//! - each layer: Q, K, V projections, `softmax(Q K^T / sqrt(d) + mask) V` per head, output
//!   projection, residual, LayerNorm; FFN with erf-GELU, residual, LayerNorm;
//! - mean pooling over the tokens where `attention_mask` is 1, then L2 normalisation
//!   (sentence-transformers' `Pooling` + `Normalize`).
//!
//! Inputs `input_ids`, `attention_mask`, `token_type_ids` (i64 `[batch, seq]`); outputs
//! `last_hidden_state` (`[batch, seq, hidden]`) and `sentence_embedding` (`[batch, hidden]`).
use super::builder::GraphBuilder;
use super::error::{GraphError, Result};
use super::ir::{Attr, Graph, TensorType, ValueId};
use super::model::Model;
use super::safetensors::SafeTensors;
use super::tensor::{DType, Tensor};

/// The sizes of a BERT encoder.
///
/// ```
/// use wasmnn::graph::bert::BertConfig;
/// let c = BertConfig::from_json(r#"{"hidden_size": 384, "num_attention_heads": 12,
///     "num_hidden_layers": 6, "intermediate_size": 1536, "layer_norm_eps": 1e-12}"#)?;
/// assert_eq!((c.hidden, c.heads, c.layers, c.intermediate), (384, 12, 6, 1536));
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    /// Width of the hidden states.
    pub hidden: usize,
    /// Attention heads (`hidden` must be a multiple).
    pub heads: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Width of the feed-forward layer.
    pub intermediate: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
}

fn config_err(why: impl Into<String>) -> GraphError {
    GraphError::malformed(format!("BERT config: {}", why.into()))
}

impl BertConfig {
    /// Reads a Hugging Face `config.json` (`hidden_size`, `num_attention_heads`,
    /// `num_hidden_layers`; `intermediate_size` defaults to `4 * hidden`, `layer_norm_eps` to
    /// 1e-12). A `hidden_act` other than `gelu` is unsupported.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| config_err(e.to_string()))?;
        let size = |key: &str| -> Result<Option<usize>> {
            match v.get(key) {
                None => Ok(None),
                Some(x) => x
                    .as_u64()
                    .and_then(|u| usize::try_from(u).ok())
                    .map(Some)
                    .ok_or_else(|| config_err(format!("`{key}` is not a size"))),
            }
        };
        let need = |key: &str| size(key)?.ok_or_else(|| config_err(format!("no `{key}`")));
        if let Some(act) = v.get("hidden_act") {
            if act.as_str() != Some("gelu") {
                return Err(GraphError::unsupported(act.to_string(), "BERT hidden_act"));
            }
        }
        let hidden = need("hidden_size")?;
        let eps = match v.get("layer_norm_eps") {
            None => 1e-12,
            Some(e) => e
                .as_f64()
                .ok_or_else(|| config_err("`layer_norm_eps` is not a number"))?
                as f32,
        };
        Ok(Self {
            hidden,
            heads: need("num_attention_heads")?,
            layers: need("num_hidden_layers")?,
            intermediate: size("intermediate_size")?.unwrap_or(hidden.saturating_mul(4)),
            eps,
        })
    }

    /// Reads the sizes off the tensor shapes. The head count is not stored in the weights: BERT's
    /// convention of 64-wide heads is assumed (pass a `config.json` when it differs, e.g.
    /// MiniLM-L6-H384 has 12 heads of 32); epsilon is 1e-12.
    pub fn from_checkpoint(st: &SafeTensors<'_>) -> Result<Self> {
        let p = prefix(st);
        let shape = |name: &str| {
            st.info(&format!("{p}{name}"))
                .map(|t| t.shape.clone())
                .ok_or_else(|| config_err(format!("no tensor `{p}{name}`")))
        };
        let hidden = match shape("embeddings.word_embeddings.weight")?[..] {
            [_, h] => h,
            ref s => return Err(config_err(format!("word embeddings of shape {s:?}"))),
        };
        let intermediate = match shape("encoder.layer.0.intermediate.dense.weight")?[..] {
            [i, _] => i,
            ref s => return Err(config_err(format!("intermediate weight of shape {s:?}"))),
        };
        let layers = (0..)
            .take_while(|l| {
                st.info(&format!("{p}encoder.layer.{l}.output.dense.weight"))
                    .is_some()
            })
            .count();
        Ok(Self {
            hidden,
            heads: (hidden / 64).max(1),
            layers,
            intermediate,
            eps: 1e-12,
        })
    }
}

/// `"bert."` when the checkpoint's names carry that prefix (BertFor... checkpoints), else `""`.
fn prefix(st: &SafeTensors<'_>) -> &'static str {
    if st.info("embeddings.word_embeddings.weight").is_none()
        && st.info("bert.embeddings.word_embeddings.weight").is_some()
    {
        "bert."
    } else {
        ""
    }
}

/// Adds checkpoint tensors and small constants to a [`GraphBuilder`].
struct Bert<'s, 'a> {
    b: GraphBuilder,
    st: &'s SafeTensors<'a>,
    prefix: &'static str,
    consts: usize,
}

impl Bert<'_, '_> {
    /// The checkpoint tensor `name` as f32 of exactly `shape`.
    fn load(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        let t = self.st.tensor(&full)?;
        if t.shape() != shape || t.as_f32().is_none() {
            return Err(GraphError::malformed(format!(
                "BERT checkpoint: `{full}` is {} {:?}, expected f32 {shape:?}",
                t.dtype().name(),
                t.shape()
            )));
        }
        Ok(t)
    }

    fn weight(&mut self, name: &str, shape: &[usize]) -> Result<ValueId> {
        let t = self.load(name, shape)?;
        Ok(self.b.constant(name, t))
    }

    fn constant(&mut self, t: Tensor) -> ValueId {
        self.consts += 1;
        self.b.constant(&format!("bert_const_{}", self.consts), t)
    }

    fn scalar(&mut self, v: f32) -> Result<ValueId> {
        Ok(self.constant(Tensor::from_f32(&[], vec![v])?))
    }

    fn ints(&mut self, v: &[i64]) -> Result<ValueId> {
        Ok(self.constant(Tensor::from_i64(&[v.len()], v.to_vec())?))
    }

    /// `x W^T + b` for a PyTorch `Linear` (`weight` is `[out, in]`; stored transposed here so
    /// that `MatMul` + `Add` fuse into one packed `Linear`).
    fn linear(&mut self, x: ValueId, name: &str, n_in: usize, n_out: usize) -> Result<ValueId> {
        let w = self.load(&format!("{name}.weight"), &[n_out, n_in])?;
        let w = w.as_f32().unwrap_or_default();
        let mut wt = vec![0.0f32; w.len()];
        for (o, row) in w.chunks_exact(n_in.max(1)).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                wt[i * n_out + o] = v;
            }
        }
        let wt = self.b.constant(
            &format!("{name}.weight_t"),
            Tensor::from_f32(&[n_in, n_out], wt)?,
        );
        let bias = self.weight(&format!("{name}.bias"), &[n_out])?;
        let y = self.b.node("MatMul", &[x, wt], &[]);
        Ok(self.b.node("Add", &[y, bias], &[]))
    }

    fn layer_norm(&mut self, x: ValueId, name: &str, h: usize, eps: f32) -> Result<ValueId> {
        let g = self.weight(&format!("{name}.weight"), &[h])?;
        let beta = self.weight(&format!("{name}.bias"), &[h])?;
        let attrs = [("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))];
        Ok(self.b.node("LayerNormalization", &[x, g, beta], &attrs))
    }

    /// `[batch, seq, hidden]` -> `[batch, heads, seq, dh]` (or `[batch, heads, dh, seq]` with
    /// `keys`, the layout exporters give `K^T`).
    fn split_heads(&mut self, x: ValueId, c: &BertConfig, keys: bool) -> Result<ValueId> {
        let dh = (c.hidden / c.heads) as i64;
        let shape = self.ints(&[0, 0, c.heads as i64, dh])?;
        let r = self.b.node("Reshape", &[x, shape], &[]);
        let perm = if keys {
            vec![0, 2, 3, 1]
        } else {
            vec![0, 2, 1, 3]
        };
        Ok(self
            .b
            .node("Transpose", &[r], &[("perm", Attr::Ints(perm))]))
    }

    fn layer(&mut self, x: ValueId, mask: ValueId, l: usize, c: &BertConfig) -> Result<ValueId> {
        let (h, eps) = (c.hidden, c.eps);
        let at = format!("encoder.layer.{l}.attention");
        let q = self.linear(x, &format!("{at}.self.query"), h, h)?;
        let k = self.linear(x, &format!("{at}.self.key"), h, h)?;
        let v = self.linear(x, &format!("{at}.self.value"), h, h)?;
        let q = self.split_heads(q, c, false)?;
        let kt = self.split_heads(k, c, true)?;
        let v = self.split_heads(v, c, false)?;
        let scores = self.b.node("MatMul", &[q, kt], &[]);
        let root = self.scalar(((h / c.heads) as f32).sqrt())?;
        let scores = self.b.node("Div", &[scores, root], &[]);
        let scores = self.b.node("Add", &[scores, mask], &[]);
        let p = self
            .b
            .node("Softmax", &[scores], &[("axis", Attr::Int(-1))]);
        let ctx = self.b.node("MatMul", &[p, v], &[]);
        let ctx = self.b.node(
            "Transpose",
            &[ctx],
            &[("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let merged = self.ints(&[0, 0, h as i64])?;
        let ctx = self.b.node("Reshape", &[ctx, merged], &[]);
        let o = self.linear(ctx, &format!("{at}.output.dense"), h, h)?;
        let o = self.b.node("Add", &[o, x], &[]);
        let x = self.layer_norm(o, &format!("{at}.output.LayerNorm"), h, eps)?;
        // FFN: GELU(x W1 + b1) W2 + b2, in the erf form the GELU fusion recognises.
        let i = c.intermediate;
        let f = self.linear(x, &format!("encoder.layer.{l}.intermediate.dense"), h, i)?;
        let half = self.scalar(0.5)?;
        let sqrt2 = self.scalar(core::f32::consts::SQRT_2)?;
        let one = self.scalar(1.0)?;
        let fh = self.b.node("Mul", &[f, half], &[]);
        let fs = self.b.node("Div", &[f, sqrt2], &[]);
        let e = self.b.node("Erf", &[fs], &[]);
        let e = self.b.node("Add", &[e, one], &[]);
        let g = self.b.node("Mul", &[fh, e], &[]);
        let o = self.linear(g, &format!("encoder.layer.{l}.output.dense"), i, h)?;
        let o = self.b.node("Add", &[o, x], &[]);
        self.layer_norm(o, &format!("encoder.layer.{l}.output.LayerNorm"), h, eps)
    }
}

/// Builds the sentence-encoder graph of a BERT checkpoint (tensor names as in Hugging Face
/// `BertModel`, optionally prefixed `bert.`; the pooler is not used). Every weight's shape is
/// checked against `config`.
///
/// ```
/// # use wasmnn::graph::{bert::{bert_graph, BertConfig}, safetensors::SafeTensors};
/// let st = SafeTensors::parse(&[2, 0, 0, 0, 0, 0, 0, 0, b'{', b'}'])?; // no tensors
/// let config = BertConfig { hidden: 8, heads: 2, layers: 1, intermediate: 16, eps: 1e-12 };
/// assert!(bert_graph(&st, &config).is_err()); // missing weights are an error, not a panic
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
pub fn bert_graph(st: &SafeTensors<'_>, config: &BertConfig) -> Result<Graph> {
    let c = config;
    let h = c.hidden;
    if c.heads == 0 || h == 0 || h % c.heads != 0 || c.layers == 0 {
        return Err(config_err(format!(
            "hidden {h} must be a positive multiple of heads {} with at least one layer",
            c.heads
        )));
    }
    let mut m = Bert {
        b: GraphBuilder::new(17),
        st,
        prefix: prefix(st),
        consts: 0,
    };
    let rows = |name: &str| {
        m.st.info(&format!("{}{name}", m.prefix))
            .and_then(|t| t.shape.first().copied())
            .ok_or_else(|| config_err(format!("no tensor `{}{name}`", m.prefix)))
    };
    let (vocab, positions, types) = (
        rows("embeddings.word_embeddings.weight")?,
        rows("embeddings.position_embeddings.weight")?,
        rows("embeddings.token_type_embeddings.weight")?,
    );
    let ty = TensorType::new(DType::I64, vec!["batch".into(), "seq".into()]);
    let ids = m.b.input("input_ids", ty.clone());
    let mask_in = m.b.input("attention_mask", ty.clone());
    let types_in = m.b.input("token_type_ids", ty);

    // Embeddings; positions are the first `seq` rows of the table.
    let word = m.weight("embeddings.word_embeddings.weight", &[vocab, h])?;
    let pos = m.weight("embeddings.position_embeddings.weight", &[positions, h])?;
    let tt = m.weight("embeddings.token_type_embeddings.weight", &[types, h])?;
    let we = m.b.node("Gather", &[word, ids], &[("axis", Attr::Int(0))]);
    let te =
        m.b.node("Gather", &[tt, types_in], &[("axis", Attr::Int(0))]);
    let shape = m.b.node("Shape", &[ids], &[]);
    let one = m.ints(&[1])?;
    let seq = m.b.node("Gather", &[shape, one], &[("axis", Attr::Int(0))]);
    let zero = m.ints(&[0])?;
    let pe = m.b.node("Slice", &[pos, zero, seq, zero], &[]);
    let x = m.b.node("Add", &[we, pe], &[]);
    let x = m.b.node("Add", &[x, te], &[]);
    let mut x = m.layer_norm(x, "embeddings.LayerNorm", h, c.eps)?;

    // Additive mask [batch, 1, 1, seq]: 0 where attended, the lowest float where padded.
    let maskf = m.b.node("Cast", &[mask_in], &[("to", Attr::Int(1))]);
    let axes12 = m.ints(&[1, 2])?;
    let m4 = m.b.node("Unsqueeze", &[maskf, axes12], &[]);
    let onef = m.scalar(1.0)?;
    let inv = m.b.node("Sub", &[onef, m4], &[]);
    let low = m.scalar(f32::MIN)?;
    let additive = m.b.node("Mul", &[inv, low], &[]);

    for l in 0..c.layers {
        x = m.layer(x, additive, l, c)?;
    }

    // Mean pooling over attended tokens, then L2 normalisation.
    let axis2 = m.ints(&[2])?;
    let m3 = m.b.node("Unsqueeze", &[maskf, axis2], &[]);
    let masked = m.b.node("Mul", &[x, m3], &[]);
    let axis1 = m.ints(&[1])?;
    let keep0 = [("keepdims", Attr::Int(0))];
    let sum = m.b.node("ReduceSum", &[masked, axis1], &keep0);
    let count = m.b.node("ReduceSum", &[m3, axis1], &keep0);
    let tiny = m.scalar(1e-9)?;
    let count = m.b.node("Max", &[count, tiny], &[]);
    let mean = m.b.node("Div", &[sum, count], &[]);
    let sq = m.b.node("Mul", &[mean, mean], &[]);
    let last = m.ints(&[-1])?;
    let ss =
        m.b.node("ReduceSum", &[sq, last], &[("keepdims", Attr::Int(1))]);
    let norm = m.b.node("Sqrt", &[ss], &[]);
    let eps = m.scalar(1e-12)?;
    let norm = m.b.node("Max", &[norm, eps], &[]);
    let emb = m.b.node("Div", &[mean, norm], &[]);

    m.b.output(x);
    m.b.output(emb);
    let mut g = m.b.build()?;
    g.values[x].name = "last_hidden_state".into();
    g.values[emb].name = "sentence_embedding".into();
    Ok(g)
}

/// Loads a BERT sentence encoder from `.safetensors` bytes, sized by `config_json` (the
/// checkpoint's `config.json`) when given, else by [`BertConfig::from_checkpoint`].
///
/// ```
/// # use wasmnn::graph::{bert::sentence_encoder, GraphError};
/// let err = sentence_encoder(b"not a checkpoint", None).unwrap_err();
/// assert!(matches!(err, GraphError::Malformed { .. }));
/// ```
pub fn sentence_encoder(safetensors: &[u8], config_json: Option<&str>) -> Result<Model> {
    let st = SafeTensors::parse(safetensors)?;
    let config = match config_json {
        Some(text) => BertConfig::from_json(text)?,
        None => BertConfig::from_checkpoint(&st)?,
    };
    Model::from_graph(bert_graph(&st, &config)?)
}
