//! Access-token JWTs (HS256): claims, signing, verification.

use super::AuthError;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// User id.
    pub sub: String,
    /// Custom user data (relaxed EJSON), absent when the user has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<serde_json::Value>,
    /// Device id of the session.
    #[serde(default)]
    pub baas_device_id: String,
    /// App the token belongs to.
    pub baas_app_id: String,
    /// Always `access` (refresh tokens are opaque and never JWTs).
    pub typ: String,
    /// The session the token belongs to: it is refused once the session ends.
    #[serde(default)]
    pub baas_session_id: String,
    /// Unique token id, so two tokens issued in one second differ.
    #[serde(default)]
    pub jti: String,
}

pub(super) struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    app_id: String,
}

impl Keys {
    pub(super) fn new(secret: &[u8], app_id: &str) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            app_id: app_id.to_string(),
        }
    }

    pub(super) fn sign(&self, claims: &AccessClaims) -> Result<String, AuthError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|e| AuthError::Internal(e.to_string()))
    }

    /// Checks signature, app, type and expiry (against `now`, so tests can move the clock).
    pub(super) fn verify(&self, token: &str, now: u64) -> Result<AccessClaims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|e| AuthError::InvalidSession(format!("access token rejected: {e}")))?;
        let claims = data.claims;
        if claims.baas_app_id != self.app_id {
            return Err(AuthError::InvalidSession("access token belongs to another app".into()));
        }
        if claims.typ != "access" {
            return Err(AuthError::InvalidSession("not an access token".into()));
        }
        if claims.exp <= now {
            return Err(AuthError::InvalidSession("access token expired".into()));
        }
        Ok(claims)
    }
}

/// Access claims for user "u" of app "app" expiring at `exp` (test fixture).
#[cfg(test)]
pub(super) fn test_claims(exp: u64) -> AccessClaims {
    AccessClaims {
        exp,
        iat: 1,
        sub: "u".into(),
        user_data: Some(serde_json::json!({"a": 1})),
        baas_device_id: "d".into(),
        baas_app_id: "app".into(),
        typ: "access".into(),
        baas_session_id: "s".into(),
        jti: "j".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::test_claims as claims;
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let k = Keys::new(b"secret-secret-secret", "app");
        let far = 4_000_000_000;
        let t = k.sign(&claims(far)).expect("sign");
        let now = 1_000;
        assert_eq!(k.verify(&t, now).expect("verify"), claims(far));
        assert!(k.verify(&t, far).is_err(), "expired at exp");
        assert!(k.verify(&k.sign(&claims(10)).expect("sign"), now).is_err(), "expired");
        assert!(Keys::new(b"other-key-other-key", "app").verify(&t, now).is_err(), "bad signature");
        assert!(Keys::new(b"secret-secret-secret", "other").verify(&t, now).is_err(), "other app");
        assert!(k.verify("not.a.jwt", now).is_err());
        assert!(k.verify("null", now).is_err());
    }
}
