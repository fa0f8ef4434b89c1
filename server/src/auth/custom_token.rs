//! The `custom-token` provider: a JWT signed by the operator's identity system (HS256 or RS256
//! with a configured key), checked for `exp`, `nbf` (when present), `aud` (required when audiences
//! are configured; an empty audience string means none, as in App Services exports) and `sub`;
//! `metadata_fields` copy claims into the profile's `data`, as App Services does.

use super::{Auth, AuthError, Identity};
use crate::config::{CustomTokenConfig, JwtAlgorithm, MetadataField};
use bson::{Bson, Document};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// An RS256 verification key from a PEM public key (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`).
fn rsa_decoding_key(pem: &str) -> Option<DecodingKey> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPublicKey::from_public_key_pem(pem.trim())
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem.trim()))
        .ok()?;
    Some(DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be()))
}

/// Follows a dotted claim path (`user.profile.name`).
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, k| v.get(k)).filter(|v| !v.is_null())
}

/// Verifies `token` against any configured key; returns its claims.
fn verify(cfg: &CustomTokenConfig, token: &str, now: u64) -> Result<Value, AuthError> {
    let alg = match cfg.algorithm {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
    };
    let mut validation = Validation::new(alg);
    // Times are checked below against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let audience: Vec<&str> = cfg.audience.iter().map(String::as_str).filter(|a| !a.is_empty()).collect();
    if audience.is_empty() {
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_aud = false;
    } else {
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.set_audience(&audience);
    }
    let mut last = String::from("no key configured");
    for key in &cfg.keys {
        let decoding = match cfg.algorithm {
            JwtAlgorithm::Hs256 => DecodingKey::from_secret(key.as_bytes()),
            JwtAlgorithm::Rs256 => match rsa_decoding_key(key) {
                Some(k) => k,
                None => continue,
            },
        };
        match decode::<Value>(token, &decoding, &validation) {
            Ok(data) => {
                let time = |name: &str| data.claims.get(name).and_then(Value::as_f64);
                if time("exp").unwrap_or(0.0) <= now as f64 {
                    return Err(AuthError::AuthFailed("custom token expired".into()));
                }
                if time("nbf").is_some_and(|nbf| nbf > now as f64) {
                    return Err(AuthError::AuthFailed("custom token not valid yet (nbf is in the future)".into()));
                }
                return Ok(data.claims);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(AuthError::AuthFailed(format!("custom token rejected: {last}")))
}

/// The profile data the metadata fields pick out of the claims.
fn metadata(fields: &[MetadataField], claims: &Value) -> Result<Document, AuthError> {
    let mut data = Document::new();
    for f in fields {
        match claim(claims, &f.name) {
            Some(v) => {
                let b = Bson::try_from(v.clone()).map_err(|e| AuthError::AuthFailed(format!("claim '{}': {e}", f.name)))?;
                data.insert(f.field_name.clone(), b);
            }
            None if f.required => {
                return Err(AuthError::AuthFailed(format!("required metadata field '{}' missing from the token", f.name)))
            }
            None => {}
        }
    }
    Ok(data)
}

impl Auth {
    pub(super) fn verify_custom_token(&self, token: &str) -> Result<Identity, AuthError> {
        let cfg = self.app.custom_token.as_ref().ok_or_else(|| AuthError::ProviderNotFound("custom-token".into()))?;
        let claims = verify(cfg, token, self.now())?;
        let sub = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => s.clone(),
            _ => return Err(AuthError::AuthFailed("custom token needs a non-empty string 'sub'".into())),
        };
        let data = metadata(&cfg.metadata_fields, &claims)?;
        Ok(Identity { provider_type: "custom-token", external_id: sub.clone(), id: sub, provider_data: data.clone(), data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn cfg(audience: Vec<String>) -> CustomTokenConfig {
        CustomTokenConfig {
            algorithm: JwtAlgorithm::Hs256,
            keys: vec!["another-key-another-key-another-k".into(), SECRET.into()],
            audience,
            metadata_fields: vec![
                MetadataField { name: "email".into(), field_name: "email".into(), required: true },
                MetadataField { name: "profile.first".into(), field_name: "first_name".into(), required: false },
            ],
        }
    }

    fn sign(claims: Value, secret: &str) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).expect("sign")
    }

    #[test]
    fn verifies_key_exp_aud_and_maps_metadata() {
        let now = 1_000_000;
        let good = json!({"sub": "u1", "exp": now + 60, "aud": "my-app", "email": "a@b.c", "profile": {"first": "Ann"}});
        let claims = verify(&cfg(vec!["my-app".into()]), &sign(good.clone(), SECRET), now).expect("valid");
        let data = metadata(&cfg(vec![]).metadata_fields, &claims).expect("metadata");
        assert_eq!(data, bson::doc! {"email": "a@b.c", "first_name": "Ann"});

        assert!(verify(&cfg(vec!["other".into()]), &sign(good.clone(), SECRET), now).is_err(), "audience");
        assert!(verify(&cfg(vec![]), &sign(good.clone(), "wrong-key-wrong-key-wrong-key-wro"), now).is_err(), "key");
        assert!(verify(&cfg(vec![]), &sign(good, SECRET), now + 60).is_err(), "expired");
        let no_exp = json!({"sub": "u1"});
        assert!(verify(&cfg(vec![]), &sign(no_exp, SECRET), now).is_err(), "exp required");
        let missing = json!({"sub": "u1", "exp": now + 60});
        assert!(metadata(&cfg(vec![]).metadata_fields, &missing).is_err(), "required field");
    }

    #[test]
    fn a_configured_audience_requires_aud_and_nbf_is_respected() {
        let now = 1_000_000;
        let no_aud = json!({"sub": "u1", "exp": now + 60});
        assert!(verify(&cfg(vec!["my-app".into()]), &sign(no_aud.clone(), SECRET), now).is_err(), "aud required");
        verify(&cfg(vec![]), &sign(no_aud.clone(), SECRET), now).expect("no audience configured");
        verify(&cfg(vec!["".into()]), &sign(no_aud, SECRET), now).expect("an empty audience is none");
        let early = json!({"sub": "u1", "exp": now + 60, "nbf": now + 1});
        assert!(verify(&cfg(vec![]), &sign(early.clone(), SECRET), now).is_err(), "before nbf");
        verify(&cfg(vec![]), &sign(early, SECRET), now + 1).expect("at nbf");
    }
}
