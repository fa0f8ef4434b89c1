//! Where each argument of a single-request collection method goes in its `functions/call` body:
//! the one description of the collection wire format. The typed methods of `collection` send
//! from it, the wasm layer reads JS arguments by it, and the wasm fast path writes bodies from it
//! around arguments encoded in the JS engine.

/// Where one argument's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The first positional argument, a filter document; `{}` when undefined or null.
    Filter,
    /// The positional argument at this index, a document.
    Document(u8),
    /// The first positional argument, an array of documents.
    Documents,
    /// The option of this (JS) name, any value; left out when undefined.
    Value(&'static str),
    /// The boolean option of this name (truthiness); left out when undefined.
    Flag(&'static str),
}

use Part::{Document, Documents, Filter, Flag, Value};

const MODIFY: [(&str, Part); 6] = [
    ("filter", Filter),
    ("update", Document(1)),
    ("sort", Value("sort")),
    ("projection", Value("projection")),
    ("upsert", Flag("upsert")),
    ("returnNewDocument", Flag("returnNewDocument")),
];
const UPDATE: [(&str, Part); 4] = [("query", Filter), ("update", Document(1)), ("upsert", Flag("upsert")), ("arrayFilters", Value("arrayFilters"))];

/// The wire names and sources of method `name`'s arguments, after `database` and `collection`;
/// `None` for anything but the single-request methods.
pub(crate) fn layout(name: &str) -> Option<&'static [(&'static str, Part)]> {
    Some(match name {
        "find" => &[("query", Filter), ("project", Value("projection")), ("sort", Value("sort")), ("limit", Value("limit"))],
        "findOne" => &[("query", Filter), ("project", Value("projection")), ("sort", Value("sort"))],
        "count" => &[("query", Filter), ("limit", Value("limit"))],
        "insertOne" => &[("document", Document(0))],
        "insertMany" => &[("documents", Documents)],
        "deleteOne" | "deleteMany" => &[("query", Filter)],
        "updateOne" | "updateMany" => &UPDATE,
        "findOneAndUpdate" | "findOneAndReplace" => &MODIFY,
        // No update, upsert or returnNewDocument for a delete.
        "findOneAndDelete" => &[("filter", Filter), ("sort", Value("sort")), ("projection", Value("projection"))],
        "aggregate" => &[("pipeline", Documents)],
        _ => return None,
    })
}
