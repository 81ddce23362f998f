//! BERT WordPiece tokenizer (the `BertTokenizer` of Hugging Face transformers, uncased):
//! text -> token ids for an encoder such as all-MiniLM-L6-v2.
//!
//! Steps, as in the reference implementation:
//! 1. clean: drop NUL, U+FFFD and control characters, turn whitespace into spaces;
//! 2. put spaces around CJK ideographs (each becomes its own word);
//! 3. lower-case and strip accents (decompose, drop combining marks);
//! 4. split on whitespace, then split punctuation off as single-character words;
//! 5. WordPiece: greedy longest match from the vocabulary, continuation pieces prefixed `##`;
//!    a word with no match (or over 100 characters) becomes `[UNK]`;
//! 6. add `[CLS]` and `[SEP]`, truncate to the maximum length, pad batches with `[PAD]`.
//!
//! The Unicode properties (punctuation, control characters, non-spacing marks, canonical
//! decompositions) come from tables generated from Python's `unicodedata` (module `unicode`), the
//! same data the reference uses; Hangul syllables decompose algorithmically.
mod unicode;

use super::error::{GraphError, Result};
use super::tensor::Tensor;
use std::collections::HashMap;
use unicode::{CONTROL, NONSPACING_MARK, PUNCTUATION, STRIP};

/// Longest word WordPiece tries to split; longer words become `[UNK]` (as in BERT).
const MAX_WORD_CHARS: usize = 100;

/// A WordPiece vocabulary with BERT's special tokens.
///
/// ```
/// use wasmnn::graph::tokenizer::WordPiece;
/// let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nwo\n##rld\n!\n";
/// let tok = WordPiece::from_vocab(vocab, 512)?;
/// assert_eq!(tok.tokenize("Hello World!"), ["hello", "wo", "##rld", "!"]);
/// assert_eq!(tok.encode("Hello World!"), [2, 4, 5, 6, 7, 3]);
/// # Ok::<(), wasmnn::graph::GraphError>(())
/// ```
#[derive(Clone, Debug)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    cls: u32,
    sep: u32,
    pad: u32,
    unk: u32,
    max_len: usize,
}

/// A padded batch: ids, attention mask and token types, each `[batch, longest]` of `i64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Token ids (`[PAD]` after the end of each text).
    pub input_ids: Tensor,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor,
    /// All zeros (single-segment input).
    pub token_type_ids: Tensor,
}

impl WordPiece {
    /// Reads `vocab.txt` (one token per line; the line number is the id) and requires the
    /// special tokens `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`. `max_len` (with `[CLS]` and `[SEP]`)
    /// must be at least 2.
    pub fn from_vocab(vocab_txt: &str, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(GraphError::invalid(
                "max_len must leave room for [CLS] and [SEP]",
            ));
        }
        let mut vocab = HashMap::new();
        for (i, line) in vocab_txt.lines().enumerate() {
            let id = u32::try_from(i).map_err(|_| GraphError::invalid("vocabulary too large"))?;
            // The first occurrence wins, as in transformers' `load_vocab` (later ids overwrite
            // there too, but real vocabularies have no duplicates).
            vocab
                .entry(line.trim_end_matches('\r').to_string())
                .or_insert(id);
        }
        let special = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| GraphError::invalid(format!("the vocabulary has no {t} token")))
        };
        Ok(Self {
            cls: special("[CLS]")?,
            sep: special("[SEP]")?,
            pad: special("[PAD]")?,
            unk: special("[UNK]")?,
            vocab,
            max_len,
        })
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The word pieces of `text` (no special tokens).
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for word in basic_words(text) {
            match self.word_pieces(&word) {
                Some(pieces) => out.extend(pieces.into_iter().map(|(s, _)| s)),
                None => out.push("[UNK]".to_string()),
            }
        }
        out
    }

    /// Token ids of `text`: `[CLS] pieces [SEP]`, truncated to the maximum length.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut ids = vec![self.cls as i64];
        for word in basic_words(text) {
            match self.word_pieces(&word) {
                Some(pieces) => ids.extend(pieces.into_iter().map(|(_, id)| id as i64)),
                None => ids.push(self.unk as i64),
            }
            if ids.len() >= self.max_len - 1 {
                break;
            }
        }
        ids.truncate(self.max_len - 1);
        ids.push(self.sep as i64);
        ids
    }

    /// Encodes several texts and pads them to the longest.
    ///
    /// ```
    /// use wasmnn::graph::tokenizer::WordPiece;
    /// let tok = WordPiece::from_vocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhi\nthere\n", 512)?;
    /// let b = tok.encode_batch(&["hi there", "hi"])?;
    /// assert_eq!(b.input_ids.as_i64().unwrap(), &[2, 4, 5, 3, 2, 4, 3, 0]);
    /// assert_eq!(b.attention_mask.as_i64().unwrap(), &[1, 1, 1, 1, 1, 1, 1, 0]);
    /// # Ok::<(), wasmnn::graph::GraphError>(())
    /// ```
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Batch> {
        let encoded: Vec<Vec<i64>> = texts.iter().map(|t| self.encode(t)).collect();
        let longest = encoded.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(texts.len() * longest);
        let mut mask = Vec::with_capacity(texts.len() * longest);
        for e in &encoded {
            ids.extend_from_slice(e);
            ids.resize(ids.len() + longest - e.len(), self.pad as i64);
            mask.extend(std::iter::repeat_n(1i64, e.len()));
            mask.extend(std::iter::repeat_n(0i64, longest - e.len()));
        }
        let shape = [texts.len(), longest];
        Ok(Batch {
            input_ids: Tensor::from_i64(&shape, ids)?,
            attention_mask: Tensor::from_i64(&shape, mask)?,
            token_type_ids: Tensor::zeros(super::DType::I64, &shape)?,
        })
    }

    /// Greedy longest-match-first split of one word, or `None` if some part has no match.
    fn word_pieces(&self, word: &str) -> Option<Vec<(String, u32)>> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            return None;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let mut piece: String = chars[start..end].iter().collect();
                if start > 0 {
                    piece.insert_str(0, "##");
                }
                if let Some(&id) = self.vocab.get(&piece) {
                    found = Some((piece, id));
                    break;
                }
                end -= 1;
            }
            pieces.push(found?);
            start = end;
        }
        Some(pieces)
    }
}

/// Steps 1-4: the words (and single punctuation characters) of `text`.
fn basic_words(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            spaced.push(' ');
        } else if is_cjk(c) {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    let mut words = Vec::new();
    for token in spaced.split(' ').filter(|t| !t.is_empty()) {
        let mut plain = String::with_capacity(token.len());
        for c in token.chars().flat_map(char::to_lowercase) {
            push_stripped(c, &mut plain);
        }
        let mut word = String::new();
        for c in plain.chars() {
            if is_punctuation(c) {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.push(c.to_string());
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// Whitespace as BERT sees it: space, tab, newline, carriage return, category Zs.
fn is_whitespace(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let u = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < u {
                core::cmp::Ordering::Less
            } else if lo > u {
                core::cmp::Ordering::Greater
            } else {
                core::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Control and format characters (categories Cc, Cf), except tab, newline and return.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && in_ranges(CONTROL, c)
}

/// ASCII punctuation (BERT counts all of ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``) and category P*.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || in_ranges(PUNCTUATION, c)
}

/// CJK ideographs, which BERT splits into single-character words.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4e00}'..='\u{9fff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{20000}'..='\u{2a6df}'
        | '\u{2a700}'..='\u{2b73f}'
        | '\u{2b740}'..='\u{2b81f}'
        | '\u{2b820}'..='\u{2ceaf}'
        | '\u{f900}'..='\u{faff}'
        | '\u{2f800}'..='\u{2fa1f}')
}

/// Appends `c` without accents: its canonical decomposition minus non-spacing marks.
fn push_stripped(c: char, out: &mut String) {
    if in_ranges(NONSPACING_MARK, c) {
        return;
    }
    let u = c as u32;
    if (0xac00..=0xd7a3).contains(&u) {
        // Hangul syllable -> leading consonant, vowel, optional trailing consonant (jamo).
        let s = u - 0xac00;
        let jamo = [0x1100 + s / 588, 0x1161 + (s % 588) / 28, 0x11a7 + s % 28];
        let n = if s % 28 == 0 { 2 } else { 3 };
        out.extend(jamo[..n].iter().filter_map(|&j| char::from_u32(j)));
        return;
    }
    match STRIP.binary_search_by_key(&u, |&(k, _)| k) {
        Ok(i) => out.push_str(STRIP[i].1),
        Err(_) => out.push(c),
    }
}
