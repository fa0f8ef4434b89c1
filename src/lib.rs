//! realm-wasm: the Atlas App Services client API (placeholder, filled in by the SDK work).
