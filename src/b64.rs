//! Base64 as the protocol uses it: standard alphabet with canonical padding (`$binary`, the
//! streaming call's `baas_request`) and the lenient URL-safe decoding of JWT payloads.
//!
//! It follows the `base64` crate (0.22) rule for rule, error texts included (the tests compare the
//! two on every short input); that crate's speed-tuned engine was ~7 KB of the wasm for a few short
//! strings per session.

use std::fmt;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const PAD: u8 = b'=';

/// Why input is not base64, worded as the `base64` crate words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A byte outside the alphabet (or misplaced padding) at an offset.
    Byte(usize, u8),
    /// A length no encoding has.
    Length(usize),
    /// Nonzero trailing bits in the last symbol (where they are not allowed).
    LastSymbol(usize, u8),
    /// Padding missing or not canonical (where it is required).
    Padding,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match *self {
            Self::Byte(index, byte) => write!(f, "Invalid symbol {byte}, offset {index}."),
            Self::Length(len) => write!(f, "Invalid input length: {len}"),
            Self::LastSymbol(index, byte) => write!(f, "Invalid last symbol {byte}, offset {index}."),
            Self::Padding => write!(f, "Invalid padding"),
        }
    }
}

/// Standard alphabet, padded.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(STANDARD[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push(PAD as char);
            }
        }
    }
    out
}

/// Standard alphabet, canonical padding required, trailing bits must be zero.
pub(crate) fn decode_standard(input: &str) -> Result<Vec<u8>, DecodeError> {
    decode(input.as_bytes(), STANDARD, true)
}

/// URL-safe alphabet, padding optional, trailing bits ignored (how JWT payloads are read).
pub(crate) fn decode_url_lenient(input: &str) -> Result<Vec<u8>, DecodeError> {
    decode(input.as_bytes(), URL_SAFE, false)
}

fn morsel(alphabet: &[u8; 64], b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        _ if b == alphabet[62] => Some(62),
        _ if b == alphabet[63] => Some(63),
        _ => None,
    }
}

/// The `base64` crate's `decode_helper` + `decode_suffix`: whole quads first (the last one,
/// padded or not, is the suffix), then the suffix's padding, length and trailing-bit checks.
fn decode(input: &[u8], alphabet: &[u8; 64], strict: bool) -> Result<Vec<u8>, DecodeError> {
    let rem = input.len() % 4;
    if rem == 1 {
        let last = input[input.len() - 1];
        if last != PAD && morsel(alphabet, last).is_none() {
            return Err(DecodeError::Byte(input.len() - 1, last));
        }
    }
    let quads_len = input.len().saturating_sub(rem).saturating_sub(usize::from(rem == 0) * 4);
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    for (q, quad) in input[..quads_len].chunks_exact(4).enumerate() {
        let mut n = 0u32;
        for (i, &b) in quad.iter().enumerate() {
            let m = morsel(alphabet, b).ok_or(DecodeError::Byte(q * 4 + i, b))?;
            n = n << 6 | u32::from(m);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..]);
    }

    let mut morsels = [0u8; 4];
    let (mut count, mut pads, mut first_pad, mut last_symbol) = (0, 0, 0, 0u8);
    for (i, &b) in input[quads_len..].iter().enumerate() {
        if b == PAD {
            if i < 2 {
                return Err(DecodeError::Byte(quads_len + i, b));
            }
            if pads == 0 {
                first_pad = i;
            }
            pads += 1;
            continue;
        }
        if pads > 0 {
            return Err(DecodeError::Byte(quads_len + first_pad, PAD));
        }
        last_symbol = b;
        morsels[count] = morsel(alphabet, b).ok_or(DecodeError::Byte(quads_len + i, b))?;
        count += 1;
    }
    if !input.is_empty() && count < 2 {
        return Err(DecodeError::Length(quads_len + count));
    }
    if strict && (pads + count) % 4 != 0 {
        return Err(DecodeError::Padding);
    }
    let bytes = count * 6 / 8;
    let n = morsels.iter().enumerate().fold(0u32, |n, (i, &m)| n | u32::from(m) << (26 - 6 * i));
    if strict && n & (!0u32 >> (bytes * 8)) != 0 {
        return Err(DecodeError::LastSymbol(quads_len + count - 1, last_symbol));
    }
    out.extend_from_slice(&n.to_be_bytes()[..bytes]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
    use base64::engine::DecodePaddingMode;
    use base64::Engine as _;

    use super::*;

    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );

    fn crate_error(e: base64::DecodeError) -> DecodeError {
        match e {
            base64::DecodeError::InvalidByte(i, b) => DecodeError::Byte(i, b),
            base64::DecodeError::InvalidLength(n) => DecodeError::Length(n),
            base64::DecodeError::InvalidLastSymbol(i, b) => DecodeError::LastSymbol(i, b),
            base64::DecodeError::InvalidPadding => DecodeError::Padding,
        }
    }

    /// Every string of up to 6 symbols over a small alphabet (valid symbols, both alphabets'
    /// extras, padding, a foreign byte), plus longer ones, decoded by both implementations.
    #[test]
    fn decoding_matches_the_base64_crate() {
        let symbols = b"AQgw+/-_=!";
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        let mut level = vec![Vec::new()];
        for _ in 0..6 {
            level = level
                .iter()
                .flat_map(|s: &Vec<u8>| symbols.iter().map(move |&c| [s.as_slice(), &[c]].concat()))
                .collect();
            inputs.extend(level.iter().cloned());
        }
        for long in ["aGVsbG8gd29ybGQhIQ==", "aGVsbG8gd29ybGQhIQ", "aGVsbG8gd29y!GQhIQ==", "aGVsbG8=d29ybGQhIQ==", "eyJleHAiOjJ9"] {
            inputs.push(long.as_bytes().to_vec());
        }
        for input in &inputs {
            let text = std::str::from_utf8(input).unwrap();
            assert_eq!(decode_standard(text), STANDARD.decode(input).map_err(crate_error), "standard {text:?}");
            assert_eq!(decode_url_lenient(text), LENIENT.decode(input).map_err(crate_error), "lenient {text:?}");
        }
    }

    #[test]
    fn encoding_matches_the_base64_crate() {
        let bytes: Vec<u8> = (0..=255u8).rev().collect();
        for len in 0..40 {
            assert_eq!(encode(&bytes[..len]), STANDARD.encode(&bytes[..len]));
        }
    }

    #[test]
    fn errors_read_like_the_base64_crate() {
        for e in [
            base64::DecodeError::InvalidByte(3, b'!'),
            base64::DecodeError::InvalidLength(5),
            base64::DecodeError::InvalidLastSymbol(2, b'R'),
            base64::DecodeError::InvalidPadding,
        ] {
            assert_eq!(crate_error(e.clone()).to_string(), e.to_string());
        }
    }
}
