//! The error type of the graph runner. Every malformed file, unsupported operator and bad input
//! ends here, with the node and operator named when one is involved; nothing panics.
use core::fmt;

/// Why loading, compiling or running a graph failed.
///
/// ```
/// use wasmnn::graph::GraphError;
/// let e = GraphError::unsupported("Loop", "op type").at("node_7", "Loop");
/// assert_eq!(e.to_string(), "node `node_7` (Loop): unsupported op type `Loop`");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum GraphError {
    /// The bytes are not a well-formed model (protobuf, references, tensor sizes).
    Malformed {
        /// What is wrong.
        why: String,
    },
    /// An operator, attribute or data type this runner does not implement.
    Unsupported {
        /// Node name (empty when not known yet).
        node: String,
        /// Operator type.
        op: String,
        /// What is unsupported (`"op type"`, `"attribute auto_pad=..."`, ...).
        what: String,
        /// The offending value.
        value: String,
    },
    /// A node's inputs or attributes are inconsistent (shapes, types, ranks, axes).
    Invalid {
        /// Node name (empty when not inside a node).
        node: String,
        /// Operator type (empty when not inside a node).
        op: String,
        /// What is wrong.
        why: String,
    },
    /// A kernel refused its arguments.
    Kernel {
        /// Node name.
        node: String,
        /// Operator type.
        op: String,
        /// The kernel's error.
        source: crate::Error,
    },
    /// A tensor or the memory plan would exceed the configured size limit.
    TooLarge {
        /// What is too large.
        what: String,
        /// Bytes it needs.
        bytes: u128,
        /// The limit.
        limit: u128,
    },
}

/// Result with a [`GraphError`].
pub type Result<T> = core::result::Result<T, GraphError>;

impl GraphError {
    /// A malformed-model error.
    pub fn malformed(why: impl Into<String>) -> Self {
        GraphError::Malformed { why: why.into() }
    }
    /// An inconsistency; [`GraphError::at`] adds the node.
    pub fn invalid(why: impl Into<String>) -> Self {
        GraphError::Invalid {
            node: String::new(),
            op: String::new(),
            why: why.into(),
        }
    }
    /// Something unsupported (`what`, e.g. `"op type"`, with its `value`).
    pub fn unsupported(value: impl Into<String>, what: impl Into<String>) -> Self {
        GraphError::Unsupported {
            node: String::new(),
            op: String::new(),
            what: what.into(),
            value: value.into(),
        }
    }
    /// Fills in the node name and operator if they are not set yet.
    pub fn at(mut self, node_name: &str, op_type: &str) -> Self {
        match &mut self {
            GraphError::Unsupported { node, op, .. }
            | GraphError::Invalid { node, op, .. }
            | GraphError::Kernel { node, op, .. }
                if node.is_empty() && op.is_empty() =>
            {
                *node = node_name.to_string();
                *op = op_type.to_string();
            }
            _ => {}
        }
        self
    }
}

impl From<crate::Error> for GraphError {
    fn from(source: crate::Error) -> Self {
        GraphError::Kernel {
            node: String::new(),
            op: String::new(),
            source,
        }
    }
}

impl From<wasmnn_arena::Error> for GraphError {
    fn from(e: wasmnn_arena::Error) -> Self {
        GraphError::invalid(format!("memory plan: {e}"))
    }
}

fn prefix(f: &mut fmt::Formatter<'_>, node: &str, op: &str) -> fmt::Result {
    if node.is_empty() && op.is_empty() {
        Ok(())
    } else {
        write!(f, "node `{node}` ({op}): ")
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Malformed { why } => write!(f, "malformed model: {why}"),
            GraphError::Unsupported {
                node,
                op,
                what,
                value,
            } => {
                prefix(f, node, op)?;
                write!(f, "unsupported {what} `{value}`")
            }
            GraphError::Invalid { node, op, why } => {
                prefix(f, node, op)?;
                f.write_str(why)
            }
            GraphError::Kernel { node, op, source } => {
                prefix(f, node, op)?;
                write!(f, "{source}")
            }
            GraphError::TooLarge { what, bytes, limit } => {
                write!(f, "{what} needs {bytes} bytes, over the limit of {limit}")
            }
        }
    }
}

impl std::error::Error for GraphError {}
