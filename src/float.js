// The wasm build's float hook (src/float.rs): doubles ↔ decimal text by the JS engine, so the wasm
// carries none of core's float formatting and parsing (~40 KB of wasm with its tables). Parsing
// gives exactly what `str::parse::<f64>` gives; formatting gives Rust's `{:?}` text, except that
// where two shortest digit strings both read back as `n` (about 1 in 8,000 random doubles) V8 may
// end in the other digit: both name the same double.

// Finite `n` in the form of Rust's `{:?}`: shortest round-trip digits, plain between 1e-4 and 1e16
// with at least one fractional digit (5.0, 0.0001, -0.0), else exponential without `+` (1e16, 1.5e-7).
export function formatDouble(n) {
  const a = Math.abs(n);
  if (a === 0) return 1 / n < 0 ? "-0.0" : "0.0";
  if (a >= 1e-4 && a < 1e16) {
    const s = String(n);
    return s.includes(".") ? s : s + ".0";
  }
  return n.toExponential().replace("e+", "e");
}

// `text` holds only digits, signs, `.`, `e` and `E`: on that alphabet `Number` accepts exactly the
// strings `str::parse::<f64>` accepts (NaN for the others), and both round correctly (±Infinity on overflow).
export function parseDouble(text) {
  return Number(text);
}
