//! BERT WordPiece tokenizer (to be written).
