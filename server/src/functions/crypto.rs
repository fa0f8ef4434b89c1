//! `utils.crypto` and `utils.jwt` of the function globals, on RustCrypto and jsonwebtoken.
//!
//! The docs leave the AES mode open; this server uses AES-GCM (authenticated) with a random
//! 12-byte nonce written before the ciphertext, so `decrypt` refuses a wrong key or altered data
//! instead of returning garbage. RSA signatures hash the message with SHA-256.

use super::ScriptError;
use aes_gcm::aead::{Aead, KeyInit};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use sha2::Digest;
use std::str::FromStr;

fn err(message: impl Into<String>) -> ScriptError {
    ScriptError(message.into())
}

/// `utils.crypto.hash(hash_function, input)`: sha1, sha256, sha512 or md5.
pub fn hash(function: &str, input: &[u8]) -> Result<Vec<u8>, ScriptError> {
    Ok(match function {
        "sha1" => sha1::Sha1::digest(input).to_vec(),
        "sha256" => sha2::Sha256::digest(input).to_vec(),
        "sha512" => sha2::Sha512::digest(input).to_vec(),
        "md5" => md5::Md5::digest(input).to_vec(),
        other => return Err(err(format!("utils.crypto.hash: unsupported hash function {other:?} (sha1, sha256, sha512 or md5)"))),
    })
}

/// `utils.crypto.hmac(input, secret, hash_function, …)`: the raw MAC (the caller encodes it).
pub fn hmac(function: &str, secret: &[u8], input: &[u8]) -> Result<Vec<u8>, ScriptError> {
    fn mac<M: Mac + KeyInit>(secret: &[u8], input: &[u8]) -> Result<Vec<u8>, ScriptError> {
        let mut m = <M as Mac>::new_from_slice(secret).map_err(|_| err("utils.crypto.hmac: unusable secret"))?;
        m.update(input);
        Ok(m.finalize().into_bytes().to_vec())
    }
    match function {
        "sha1" => mac::<Hmac<sha1::Sha1>>(secret, input),
        "sha256" => mac::<Hmac<sha2::Sha256>>(secret, input),
        "sha512" => mac::<Hmac<sha2::Sha512>>(secret, input),
        other => Err(err(format!("utils.crypto.hmac: unsupported hash function {other:?} (sha1, sha256 or sha512)"))),
    }
}

fn aes_check(kind: &str, key: &[u8], what: &str) -> Result<(), ScriptError> {
    if kind != "aes" {
        return Err(err(format!("utils.crypto.{what}: unsupported encryption type {kind:?} (only \"aes\")")));
    }
    if ![16, 24, 32].contains(&key.len()) {
        return Err(err(format!("utils.crypto.{what}: the key must be 16, 24 or 32 bytes, not {}", key.len())));
    }
    Ok(())
}

fn aes_run(key: &[u8], f: impl Fn(&dyn AeadBytes) -> Result<Vec<u8>, aes_gcm::Error>) -> Result<Vec<u8>, aes_gcm::Error> {
    match key.len() {
        16 => f(&aes_gcm::Aes128Gcm::new_from_slice(key).map_err(|_| aes_gcm::Error)?),
        24 => f(&aes_gcm::AesGcm::<aes_gcm::aes::Aes192, aes_gcm::aead::consts::U12>::new_from_slice(key).map_err(|_| aes_gcm::Error)?),
        _ => f(&aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| aes_gcm::Error)?),
    }
}

/// The two AES-GCM operations over any key size.
trait AeadBytes {
    fn seal(&self, nonce: &[u8; 12], data: &[u8]) -> Result<Vec<u8>, aes_gcm::Error>;
    fn open(&self, nonce: &[u8; 12], data: &[u8]) -> Result<Vec<u8>, aes_gcm::Error>;
}

impl<T: Aead + aes_gcm::AeadCore<NonceSize = aes_gcm::aead::consts::U12>> AeadBytes for T {
    fn seal(&self, nonce: &[u8; 12], data: &[u8]) -> Result<Vec<u8>, aes_gcm::Error> {
        self.encrypt(&(*nonce).into(), data)
    }
    fn open(&self, nonce: &[u8; 12], data: &[u8]) -> Result<Vec<u8>, aes_gcm::Error> {
        self.decrypt(&(*nonce).into(), data)
    }
}

/// `utils.crypto.encrypt("aes", message, key)`: nonce ‖ ciphertext ‖ tag.
pub fn encrypt(kind: &str, key: &[u8], plain: &[u8]) -> Result<Vec<u8>, ScriptError> {
    aes_check(kind, key, "encrypt")?;
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let sealed = aes_run(key, |c| c.seal(&nonce, plain)).map_err(|_| err("utils.crypto.encrypt: encryption failed"))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// `utils.crypto.decrypt("aes", encrypted, key)`.
pub fn decrypt(kind: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ScriptError> {
    aes_check(kind, key, "decrypt")?;
    if data.len() < 12 + 16 {
        return Err(err("utils.crypto.decrypt: the data is too short to come from utils.crypto.encrypt"));
    }
    let (nonce, sealed) = data.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| err("utils.crypto.decrypt: bad nonce"))?;
    aes_run(key, |c| c.open(&nonce, sealed)).map_err(|_| err("utils.crypto.decrypt: wrong key, or the data was not made by utils.crypto.encrypt or was altered"))
}

fn rsa_private(pem: &str) -> Result<rsa::RsaPrivateKey, ScriptError> {
    rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| err("utils.crypto.sign: the private key is not a PEM RSA key (PKCS#8 or PKCS#1)"))
}

fn rsa_public(pem: &str) -> Result<rsa::RsaPublicKey, ScriptError> {
    rsa::RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|_| err("utils.crypto.verify: the public key is not a PEM RSA public key"))
}

fn rsa_scheme(kind: &str, scheme: &str, what: &str) -> Result<bool, ScriptError> {
    if kind != "rsa" {
        return Err(err(format!("utils.crypto.{what}: unsupported type {kind:?} (only \"rsa\")")));
    }
    match scheme {
        "pss" => Ok(true),
        "pkcs1v15" => Ok(false),
        other => Err(err(format!("utils.crypto.{what}: unsupported scheme {other:?} (\"pss\" or \"pkcs1v15\")"))),
    }
}

/// `utils.crypto.sign("rsa", message, privateKey, scheme)`.
pub fn sign(kind: &str, message: &[u8], private_pem: &str, scheme: &str) -> Result<Vec<u8>, ScriptError> {
    let pss = rsa_scheme(kind, scheme, "sign")?;
    let key = rsa_private(private_pem)?;
    let mut rng = rand::thread_rng();
    Ok(if pss {
        rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(key).sign_with_rng(&mut rng, message).to_vec()
    } else {
        rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign_with_rng(&mut rng, message).to_vec()
    })
}

/// `utils.crypto.verify("rsa", message, publicKey, signature, scheme)`.
pub fn verify(kind: &str, message: &[u8], public_pem: &str, signature: &[u8], scheme: &str) -> Result<bool, ScriptError> {
    let pss = rsa_scheme(kind, scheme, "verify")?;
    let key = rsa_public(public_pem)?;
    Ok(if pss {
        rsa::pss::Signature::try_from(signature).is_ok_and(|s| rsa::pss::VerifyingKey::<sha2::Sha256>::new(key).verify(message, &s).is_ok())
    } else {
        rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(message, &s).is_ok())
    })
}

fn jwt_algorithm(method: &str, what: &str) -> Result<Algorithm, ScriptError> {
    match Algorithm::from_str(method) {
        Ok(a) if a != Algorithm::EdDSA => Ok(a),
        _ => Err(err(format!("utils.jwt.{what}: unsupported signing method {method:?} (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384)"))),
    }
}

/// `utils.jwt.encode(signingMethod, payload, secret, customHeaderFields)`: `payload` and
/// `header_fields` are JSON objects.
pub fn jwt_encode(method: &str, payload: &serde_json::Value, secret: &str, header_fields: Option<&serde_json::Value>) -> Result<String, ScriptError> {
    let alg = jwt_algorithm(method, "encode")?;
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(secret.as_bytes()).map_err(|_| err("utils.jwt.encode: the secret must be a PKCS#8 PEM EC private key for ES methods"))?,
        _ => EncodingKey::from_rsa_pem(secret.as_bytes()).map_err(|_| err("utils.jwt.encode: the secret must be a PEM RSA private key for RS and PS methods"))?,
    };
    let mut header = serde_json::Map::new();
    if let Some(serde_json::Value::Object(fields)) = header_fields {
        header.extend(fields.clone());
    }
    header.insert("alg".into(), serde_json::Value::String(method.to_string()));
    header.entry("typ").or_insert_with(|| serde_json::Value::String("JWT".into()));
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).map_err(|e| err(format!("utils.jwt.encode: {e}")))?;
    Ok(format!("{message}.{signature}"))
}

/// `utils.jwt.decode(jwtString, key, returnHeader, acceptedSigningMethods)`: checks the
/// signature (and `exp` / `nbf` when present) and returns (header, payload).
pub fn jwt_decode(token: &str, key: &str, accepted: &[String]) -> Result<(serde_json::Value, serde_json::Value), ScriptError> {
    let bad = || err("utils.jwt.decode: not a JWT (three base64url parts)");
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    let part = |text: &str| -> Result<serde_json::Value, ScriptError> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    };
    let (header, payload) = (part(h)?, part(p)?);
    let method = header.get("alg").and_then(|a| a.as_str()).unwrap_or_default().to_string();
    let allowed: Vec<String> = if accepted.is_empty() { vec!["HS256".into()] } else { accepted.to_vec() };
    if !allowed.contains(&method) {
        return Err(err(format!("utils.jwt.decode: signing method {method:?} is not accepted (accepted: {})", allowed.join(", "))));
    }
    let alg = jwt_algorithm(&method, "decode")?;
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => DecodingKey::from_secret(key.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(key.as_bytes()).map_err(|_| err("utils.jwt.decode: the key must be a PEM EC public key for ES methods"))?,
        _ => DecodingKey::from_rsa_pem(key.as_bytes()).map_err(|_| err("utils.jwt.decode: the key must be a PEM RSA public key for RS and PS methods"))?,
    };
    let message = format!("{h}.{p}");
    if !jsonwebtoken::crypto::verify(s, message.as_bytes(), &key, alg).unwrap_or(false) {
        return Err(err("utils.jwt.decode: invalid signature"));
    }
    let now = jsonwebtoken::get_current_timestamp() as f64;
    if payload.get("exp").and_then(|v| v.as_f64()).is_some_and(|exp| exp <= now) {
        return Err(err("utils.jwt.decode: the token has expired"));
    }
    if payload.get("nbf").and_then(|v| v.as_f64()).is_some_and(|nbf| nbf > now) {
        return Err(err("utils.jwt.decode: the token is not valid yet (nbf)"));
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_macs_and_aes() {
        assert_eq!(hex::encode(hash("sha256", b"abc").expect("sha256")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex::encode(hash("md5", b"").expect("md5")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex::encode(hash("sha1", b"abc").expect("sha1")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert!(hash("sha3", b"").is_err());
        // RFC 4231 test case 2.
        let mac = hmac("sha256", b"Jefe", b"what do ya want for nothing?").expect("hmac");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        for key in [&[7u8; 16][..], &[7u8; 24], &[7u8; 32]] {
            let sealed = encrypt("aes", key, b"secret message").expect("encrypt");
            assert_eq!(decrypt("aes", key, &sealed).expect("decrypt"), b"secret message");
        }
        let sealed = encrypt("aes", &[1u8; 32], b"x").expect("encrypt");
        assert!(decrypt("aes", &[2u8; 32], &sealed).expect_err("wrong key").0.contains("wrong key"));
        assert!(encrypt("aes", b"short", b"x").expect_err("key size").0.contains("16, 24 or 32"));
        assert!(encrypt("des", &[1u8; 16], b"x").is_err());
    }

    #[test]
    fn jwt_round_trip_with_custom_header() {
        let payload = serde_json::json!({"sub": "u1", "n": 1});
        let header = serde_json::json!({"kid": "k1"});
        let token = jwt_encode("HS256", &payload, "secret", Some(&header)).expect("encode");
        let (h, p) = jwt_decode(&token, "secret", &["HS256".into()]).expect("decode");
        assert_eq!((h["kid"].as_str(), h["alg"].as_str()), (Some("k1"), Some("HS256")));
        assert_eq!(p, payload);
        assert!(jwt_decode(&token, "other", &["HS256".into()]).expect_err("sig").0.contains("invalid signature"));
        assert!(jwt_decode(&token, "secret", &["HS512".into()]).expect_err("alg").0.contains("not accepted"));
        let expired = jwt_encode("HS512", &serde_json::json!({"exp": 1}), "s", None).expect("encode");
        assert!(jwt_decode(&expired, "s", &["HS512".into()]).expect_err("exp").0.contains("expired"));
        assert!(jwt_encode("none", &payload, "s", None).is_err());
        assert!(jwt_decode("a.b", "s", &[]).is_err());
    }
}
