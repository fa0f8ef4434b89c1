//! Doubles ↔ decimal text, for `ejson` and `json`: natively Rust's `{:?}` and `str::parse`; in the
//! wasm build the JS engine's (`float.js`), so the module carries none of core's float formatting
//! and parsing (~40 KB of wasm with its tables). Both name the same doubles (see float.js).

/// A finite double in the form of Rust's `{:?}` (shortest round-trip digits).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn shortest_text(n: f64) -> String {
    format!("{n:?}")
}

/// `s`, made only of digits, signs, `.`, `e` and `E`, as `str::parse::<f64>` reads it.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn parse(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

#[cfg(target_arch = "wasm32")]
pub(crate) use js::{parse, shortest_text};

#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/src/float.js")]
    extern "C" {
        /// A finite double in the form of Rust's `{:?}` (the same double; see float.js for the last digit).
        #[wasm_bindgen(js_name = formatDouble)]
        pub(super) fn format_double(n: f64) -> String;
        /// Text made only of digits, signs, `.`, `e` and `E`, as `str::parse::<f64>` reads it (NaN for an error).
        #[wasm_bindgen(js_name = parseDouble)]
        fn parse_double(text: &str) -> f64;
    }

    pub(crate) fn shortest_text(n: f64) -> String {
        format_double(n)
    }

    pub(crate) fn parse(s: &str) -> Option<f64> {
        let n = parse_double(s);
        (!n.is_nan()).then_some(n)
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
}
