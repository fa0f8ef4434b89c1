//! Bindings to `number.js`: doubles formatted and parsed by the JS engine instead of core's float
//! code (`ejson` and `json` use these in the wasm build; natively they use `{:?}` and `str::parse`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/wasm/number.js")]
extern "C" {
    /// A finite double in the form of Rust's `{:?}` (the same double; see number.js for the last digit).
    #[wasm_bindgen(js_name = formatDouble)]
    pub(crate) fn format_double(n: f64) -> String;
    /// Text made only of digits, signs, `.`, `e` and `E`, as `str::parse::<f64>` reads it (NaN for an error).
    #[wasm_bindgen(js_name = parseDouble)]
    pub(crate) fn parse_double(text: &str) -> f64;
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{format_double, parse_double};

    #[wasm_bindgen_test]
    fn formats_like_rust_debug() {
        for n in [5.0, 1.5, -0.0, 0.0, 0.0001, 0.00009, 1e16, 9999999999999998.0, 1e21, 1.5e-7, -2.5e300, 5e-324, f64::MAX] {
            assert_eq!(format_double(n), format!("{n:?}"));
        }
    }

    #[wasm_bindgen_test]
    fn parses_like_rust() {
        for s in ["1.e5", ".5", "1.", "+1", "-.5e-3", "1e400", "-0.0", "2.2250738585072011e-308", "9007199254740993"] {
            assert_eq!(parse_double(s).to_bits(), s.parse::<f64>().map(f64::to_bits).unwrap_or(0), "{s}");
        }
        for s in ["1e", "e1", ".", "1.2.3", "--1", "1e+-5", "+", "1+1"] {
            assert!(parse_double(s).is_nan(), "{s}");
        }
    }
}
