//! The argument document of a service call, read with Atlas's key names (`database`,
//! `collection`, `query`, `update`, `limit`, …).

use super::ServiceError;
use crate::query::{Filter, Projection, SortSpec};
use crate::store::Namespace;
use bson::{Bson, Document};

/// The arguments of one call, with Atlas's key names.
pub(super) struct Args {
    /// The namespace.
    pub(super) ns: Namespace,
    raw: Document,
}

impl Args {
    /// Parses the single argument document (`database`, `collection`, …).
    pub(super) fn parse(arguments: &[Bson]) -> Result<Args, ServiceError> {
        let raw = match arguments {
            [Bson::Document(d)] => d.clone(),
            [] => return Err(ServiceError::BadArgument("expected one argument document, got none".into())),
            [_] => return Err(ServiceError::BadArgument("argument must be an object".into())),
            _ => return Err(ServiceError::BadArgument("expected exactly one argument document".into())),
        };
        let name = |key: &str| match raw.get(key) {
            Some(Bson::String(s)) => Ok(s.clone()),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be a string"))),
            None => Err(ServiceError::BadArgument(format!("'{key}' is required"))),
        };
        let ns = Namespace::new(&name("database")?, &name("collection")?)?;
        Ok(Args { ns, raw })
    }

    pub(super) fn present(&self, key: &str) -> Option<&Bson> {
        self.raw.get(key).filter(|v| !matches!(v, Bson::Null | Bson::Undefined))
    }

    pub(super) fn doc_opt(&self, key: &str) -> Result<Option<Document>, ServiceError> {
        match self.present(key) {
            None => Ok(None),
            Some(Bson::Document(d)) => Ok(Some(d.clone())),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be an object"))),
        }
    }

    pub(super) fn doc_req(&self, key: &str) -> Result<Document, ServiceError> {
        self.doc_opt(key)?.ok_or_else(|| ServiceError::BadArgument(format!("'{key}' is required")))
    }

    pub(super) fn array_opt(&self, key: &str) -> Result<Option<&Vec<Bson>>, ServiceError> {
        match self.present(key) {
            None => Ok(None),
            Some(Bson::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be an array"))),
        }
    }

    pub(super) fn filter(&self, key: &str) -> Result<Filter, ServiceError> {
        Ok(Filter::parse(&self.doc_opt(key)?.unwrap_or_default())?)
    }

    pub(super) fn limit(&self) -> Result<Option<usize>, ServiceError> {
        let n = match self.present("limit") {
            None => return Ok(None),
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(Bson::Int64(i)) => *i,
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9e15 => *d as i64,
            Some(_) => return Err(ServiceError::BadArgument("'limit' must be an integer".into())),
        };
        Ok(if n == 0 { None } else { Some(n.unsigned_abs() as usize) })
    }

    /// `skip`: a non-negative integer (0 when absent).
    pub(super) fn skip(&self) -> Result<usize, ServiceError> {
        let n = match self.present("skip") {
            None => return Ok(0),
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(Bson::Int64(i)) => *i,
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9e15 => *d as i64,
            Some(_) => return Err(ServiceError::BadArgument("'skip' must be an integer".into())),
        };
        usize::try_from(n).map_err(|_| ServiceError::BadArgument("'skip' must not be negative".into()))
    }

    pub(super) fn flag(&self, key: &str) -> Result<bool, ServiceError> {
        match self.present(key) {
            None => Ok(false),
            Some(Bson::Boolean(b)) => Ok(*b),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be a boolean"))),
        }
    }

    pub(super) fn sort(&self) -> Result<Option<SortSpec>, ServiceError> {
        Ok(self.doc_opt("sort")?.map(|s| SortSpec::parse(&s)).transpose()?)
    }

    pub(super) fn projection(&self, key: &str) -> Result<Option<Projection>, ServiceError> {
        Ok(self.doc_opt(key)?.map(|p| Projection::parse(&p)).transpose()?)
    }
}
