//! Pure MongoDB semantics over `bson::Document` (no I/O): filters, updates, projection, sort,
//! aggregation expressions and pipelines.
//!
//! Each part parses its input into a small AST first, so unsupported operators are rejected up
//! front with a message naming them (never a silent wrong answer), then evaluates per document.

mod aggregate;
mod budget;
mod expr;
mod filter;
mod path;
mod project;
mod size;
mod update;
mod value;

pub use aggregate::Pipeline;
pub use budget::{Budget, MemoryPool, Meter, DEFAULT_POOL_BYTES, DEFAULT_STAGE_BYTES};
pub use expr::Expr;
pub use filter::Filter;
pub(crate) use filter::{parse_conds, Cond, ElemMatch, InItem};
pub use project::{Projection, SortSpec};
pub use size::doc_bytes;
pub use update::{parse_array_filters, Update, UpdateCtx};
pub use value::{compare_values, values_equal};
pub(crate) use value::type_rank;

/// Why a filter, update, projection, sort or pipeline was rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueryError {
    /// An operator this engine does not implement (yet).
    #[error("unsupported operator: {0}")]
    Unsupported(String),
    /// The operator exists but its argument has the wrong shape.
    #[error("{0}")]
    BadValue(String),
    /// An update would change a document in a forbidden way.
    #[error("{0}")]
    Conflict(String),
    /// The request would build more than its memory limit allows.
    #[error("{0}")]
    MemoryLimit(String),
    /// The process-wide query memory is taken by other requests.
    #[error("{0}")]
    ServerBusy(String),
    /// The request ran past its time limit.
    #[error("{0}")]
    TimeLimit(String),
}

/// The value at a dotted path (numeric components index arrays), without array fan-out.
pub fn path_value(doc: &bson::Document, path: &str) -> Option<bson::Bson> {
    path::get_exact(doc, path).cloned()
}

/// Every value a dotted path reaches (arrays on the way are traversed, as queries do).
pub fn path_values<'a>(doc: &'a bson::Document, path: &str) -> Vec<&'a bson::Bson> {
    path::lookup(doc, path)
}
