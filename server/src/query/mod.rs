//! Pure MongoDB semantics over `bson::Document` (no I/O): filters, updates, projection, sort.
//!
//! This is the walking-skeleton subset (equality, comparisons, `$in/$nin/$exists/$and/$or`,
//! `$set/$unset/$inc`, replacement, upsert seeding). Each part parses its input into a small
//! AST first, so unsupported operators are rejected up front with a message naming them, and a
//! complete engine can replace the parsers/evaluators without touching callers.

mod filter;
mod path;
mod project;
mod update;
mod value;

pub use filter::Filter;
pub use project::{Projection, SortSpec};
pub use update::Update;
pub use value::{compare_values, values_equal};

/// Why a filter, update, projection or sort was rejected.
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
}
