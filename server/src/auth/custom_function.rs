//! The `custom-function` provider: the app's `authFunctionName` function gets the credential's
//! payload and answers with an external id (a string, or `{id, name?}`); the same id logs in the
//! same user (identity `custom-function`). A throw fails the login with the thrown message.

use super::{Auth, AuthError, Identity};
use bson::{doc, Bson, Document};

/// Longest external id accepted (as for custom-token subjects).
const MAX_ID_BYTES: usize = 1024;

impl Auth {
    /// Runs the auth function with `payload` and returns the identity it names.
    pub(super) fn run_auth_function(&self, payload: Document) -> Result<Identity, AuthError> {
        let name = self.app.custom_function.as_deref().ok_or_else(|| AuthError::ProviderNotFound("custom-function".into()))?;
        let result = self.run_function(name, vec![Bson::Document(payload)]).map_err(AuthError::AuthFailed)?;
        let (id, display) = external_id(&result).map_err(|why| AuthError::AuthFailed(format!("custom function authentication failed: {why}")))?;
        let data = match display {
            Some(n) => doc! {"name": n},
            None => Document::new(),
        };
        Ok(Identity { provider_type: "custom-function", external_id: id.clone(), id, provider_data: data.clone(), data })
    }
}

/// The external id (and display name) a function's result names.
fn external_id(result: &Bson) -> Result<(String, Option<String>), String> {
    let (id, name) = match result {
        Bson::String(s) => (Some(s.as_str()), None),
        Bson::Document(d) => {
            let name = match d.get("name") {
                None | Some(Bson::Null) => None,
                Some(Bson::String(n)) => Some(n.clone()),
                Some(_) => return Err("the 'name' the function returned is not a string".into()),
            };
            (d.get_str("id").ok(), name)
        }
        _ => (None, None),
    };
    match id {
        Some(id) if !id.is_empty() && id.len() <= MAX_ID_BYTES => Ok((id.to_string(), name)),
        Some(id) if !id.is_empty() => Err(format!("the id the function returned is longer than {MAX_ID_BYTES} bytes")),
        _ => Err(format!("the function must return a non-empty id string or {{id, name}}, not {result}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_naming_an_id() {
        assert_eq!(external_id(&Bson::String("u1".into())), Ok(("u1".into(), None)));
        assert_eq!(external_id(&Bson::Document(doc! {"id": "u2", "name": "Ann"})), Ok(("u2".into(), Some("Ann".into()))));
        assert_eq!(external_id(&Bson::Document(doc! {"id": "u3", "name": null})), Ok(("u3".into(), None)));
        for bad in [Bson::String(String::new()), Bson::Int32(7), Bson::Document(doc! {"id": 7}), Bson::Document(doc! {"id": "x", "name": 1}), Bson::Null, Bson::String("x".repeat(1025))] {
            assert!(external_id(&bad).is_err(), "{bad}");
        }
    }
}
