//! Lenient JWT payload decoding (protocol §5): no signature check, base64url or standard
//! alphabet, padding optional.

use crate::b64;
use crate::ejson::{self, Document, Value};
use crate::error::{Error, Result};
use crate::json::{self, Json};

/// The claims of an access token the SDK uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims {
    /// Expiry, seconds since the epoch.
    pub exp: f64,
    /// Issued at, seconds since the epoch.
    pub iat: f64,
    /// Subject (the user id), if present.
    pub sub: Option<String>,
    /// The raw `user_data` claim (custom user data), if present.
    pub user_data: Option<Json>,
    /// `baas_device_id`, unless absent or all zeros.
    pub device_id: Option<String>,
}

impl TokenClaims {
    /// The custom user data, EJSON-decoded; an empty document when absent.
    pub fn custom_data(&self) -> Result<Value> {
        match &self.user_data {
            None | Some(Json::Null) => Ok(Value::Document(Document::new())),
            Some(raw) => ejson::from_json(raw.clone()),
        }
    }
}

/// Decodes the payload segment of a JWT into JSON.
pub fn decode_payload(token: &str) -> Result<Json> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(Error::decode(
            "access token: expected a JWT with three dot-separated parts",
        ));
    }
    let normalized: String = parts[1]
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = b64::decode_url_lenient(normalized.trim_end_matches('='))
        .map_err(|e| Error::decode(format!("access token payload (base64): {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::decode("access token payload (JSON): invalid UTF-8"))?;
    json::parse(text).map_err(|e| Error::decode(format!("access token payload (JSON): {e}")))
}

/// Decodes the claims the SDK needs; `exp` and `iat` must be numbers.
pub fn decode_claims(token: &str) -> Result<TokenClaims> {
    let payload = decode_payload(token)?;
    let Json::Object(mut map) = payload else {
        return Err(Error::decode("access token payload: expected a JSON object"));
    };
    let number = |map: &[(String, Json)], name: &str| {
        json::get(map, name)
            .and_then(Json::as_f64)
            .ok_or_else(|| Error::decode(format!("access token '{name}': expected a number")))
    };
    Ok(TokenClaims {
        exp: number(&map, "exp")?,
        iat: number(&map, "iat")?,
        sub: json::get(&map, "sub").and_then(Json::as_str).map(str::to_owned),
        device_id: json::get(&map, "baas_device_id")
            .and_then(Json::as_str)
            .filter(|id| *id != "000000000000000000000000")
            .map(str::to_owned),
        user_data: map.iter().position(|(k, _)| k == "user_data").map(|i| map.swap_remove(i).1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{GeneralPurpose, STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;

    fn token_with(payload: &str, engine: &GeneralPurpose) -> String {
        format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", engine.encode(payload))
    }

    #[test]
    fn decodes_url_safe_without_padding() {
        let t = token_with(r#"{"exp":2,"iat":1,"sub":"u1","user_data":{"favoriteColor":"pink??>"}}"#, &URL_SAFE_NO_PAD);
        let c = decode_claims(&t).unwrap();
        assert_eq!((c.exp, c.iat, c.sub.as_deref(), c.device_id.clone()), (2.0, 1.0, Some("u1"), None));
        let d = token_with(r#"{"exp":2,"iat":1,"baas_device_id":"65aaaaaaaaaaaaaaaaaaaaaa"}"#, &URL_SAFE_NO_PAD);
        assert_eq!(decode_claims(&d).unwrap().device_id.as_deref(), Some("65aaaaaaaaaaaaaaaaaaaaaa"));
        let data = c.custom_data().unwrap();
        assert_eq!(
            data.as_document().and_then(|d| d.get("favoriteColor")),
            Some(&Value::String("pink??>".into()))
        );
    }

    #[test]
    fn decodes_standard_with_padding() {
        let t = token_with(r#"{"exp":2,"iat":1,"x":"??>?"}"#, &STANDARD);
        assert!(t.contains('=') || t.contains('+') || t.contains('/'));
        let c = decode_claims(&t).unwrap();
        assert_eq!(c.custom_data().unwrap(), Value::Document(Document::new()));
    }

    #[test]
    fn ejson_in_user_data_is_decoded() {
        let t = token_with(r#"{"exp":2,"iat":1,"user_data":{"n":{"$numberLong":"7"},"_id":{"$oid":"65aaaaaaaaaaaaaaaaaaaaaa"}}}"#, &URL_SAFE_NO_PAD);
        let data = decode_claims(&t).unwrap().custom_data().unwrap();
        let d = data.as_document().unwrap();
        assert_eq!(d.get("n"), Some(&Value::Int64(7)));
        assert!(matches!(d.get("_id"), Some(Value::ObjectId(_))));
    }

    #[test]
    fn rejects_bad_tokens() {
        assert!(decode_claims("opaque").is_err());
        assert!(decode_claims("a.b").is_err());
        assert!(decode_claims("a.!!!.c").is_err());
        assert!(decode_claims(&token_with("not json", &URL_SAFE_NO_PAD)).is_err());
        assert!(decode_claims(&token_with("[1]", &URL_SAFE_NO_PAD)).is_err());
        assert!(decode_claims(&token_with(r#"{"exp":"2","iat":1}"#, &URL_SAFE_NO_PAD)).is_err());
        assert!(decode_claims(&token_with(r#"{"exp":2}"#, &URL_SAFE_NO_PAD)).is_err());
    }
}
