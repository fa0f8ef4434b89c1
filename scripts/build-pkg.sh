#!/usr/bin/env bash
# Builds the npm package `realm-wasm` into pkg/:
#   1. cargo build of the SDK crate for wasm32-unknown-unknown (profile `wasm-release`: opt-level "z",
#      size first; the shared `release` profile stays as the server wants it),
#   2. wasm-bindgen for Node (pkg/node, CommonJS) and for browsers/bundlers (pkg/web, ES module),
#   3. wasm-opt -Os --converge (npm binaryen from node_modules/.bin, never Debian's) on both .wasm files,
#      then short import/export names in each .wasm and its glue (scripts/minify-wasm-names.mjs),
#   4. pkg-template/* copied over, with the export lists filled in from the generated module,
#   5. node_modules/realm-wasm -> ../pkg, so examples and tests import the package by name,
#   6. a smoke check: require() and import() of pkg/ from Node.
# Steps 2-4 are skipped when the wasm, the template and this script are unchanged since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

log() { printf '[build-pkg] %s\n' "$*" >&2; }

WASM_OPT="$ROOT/node_modules/.bin/wasm-opt"
if [ ! -x "$WASM_OPT" ]; then
  echo "error: $WASM_OPT is missing (npm binaryen); run scripts/setup.sh (make setup)" >&2
  exit 1
fi
# Features the Rust toolchain emits by default for wasm32-unknown-unknown; wasm-opt must accept them
# (and may keep using them). Node 18+ and current browsers support all of them.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
                   --enable-mutable-globals --enable-reference-types --enable-multivalue)

# Without reference types (on by default for this target since Rust 1.82): wasm-bindgen then keeps JS
# values in its JS-side heap instead of an externref table, and the download is 1.1 KB smaller
# gzipped (wasm -1.6 KB, glue +0.45 KB; issue 15). Only this profile's artifacts are built with the
# flag, so the wasm-pack test builds (profile dev) keep their cache.
log "cargo build --profile wasm-release --target wasm32-unknown-unknown -p realm-wasm (reference types off)"
RUSTFLAGS="${RUSTFLAGS:-} -Ctarget-feature=-reference-types" \
  cargo build --profile wasm-release --target wasm32-unknown-unknown -p realm-wasm
WASM=target/wasm32-unknown-unknown/wasm-release/realm_wasm.wasm

STAMP_FILE=pkg/.build-stamp
stamp=$( { sha256sum "$WASM" scripts/build-pkg.sh scripts/minify-wasm-names.mjs; find pkg-template -type f -print0 | sort -z | xargs -0 sha256sum; wasm-bindgen --version; } | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$stamp" ] && [ -f pkg/index.cjs ]; then
  log "pkg/ is up to date"
else
  rm -rf pkg
  mkdir -p pkg
  log "wasm-bindgen $(wasm-bindgen --version | cut -d' ' -f2): node + web"
  # The standard library is prebuilt with reference types, so the linked module's target-features
  # section still claims them, and wasm-bindgen would emit externref glue: strip it first.
  STRIPPED="$ROOT/target/realm_wasm.stripped.wasm"
  "$WASM_OPT" "$WASM" "${WASM_OPT_FEATURES[@]}" --strip-target-features -o "$STRIPPED"
  wasm-bindgen --target nodejs --out-dir pkg/node --out-name realm_wasm "$STRIPPED"
  wasm-bindgen --target web --out-dir pkg/web --out-name realm_wasm "$STRIPPED"
  # JS snippets (src/wasm/codec.js) are ES modules; the CommonJS build `require`s them, which
  # Node before 20.19 cannot do for ESM, so the Node copies become CommonJS.
  find pkg/node/snippets -name '*.js' -print0 2>/dev/null | while IFS= read -r -d '' snippet; do
    esbuild --format=cjs --log-level=warning --allow-overwrite "$snippet" --outfile="$snippet"
  done

  for dir in node web; do
    file="pkg/$dir/realm_wasm_bg.wasm"
    before=$(stat -c %s "$file")
    # -Os: 4% larger than -Oz but 0.4% smaller gzipped, which is what browsers download (issue 15);
    # --converge repeats it while it still shrinks; the producers and target-features sections are
    # metadata no engine reads.
    "$WASM_OPT" -Os --converge --strip-producers --strip-target-features "${WASM_OPT_FEATURES[@]}" "$file" -o "$file.opt"
    mv "$file.opt" "$file"
    log "wasm-opt $file: $before -> $(stat -c %s "$file") bytes"
    # binaryen's short names for imports and exports, and the glue rewritten from its mapping; the
    # wasm's own typings of its exports would name the old ones.
    node scripts/minify-wasm-names.mjs "$file" "pkg/$dir/realm_wasm.js"
    rm -f "pkg/$dir/realm_wasm_bg.wasm.d.ts"
    # Internal setup functions (`__setBson`, …) stay callable but are not part of the typings.
    sed -i -E '/^export function __[A-Za-z0-9_]*\(.*;$/d' "pkg/$dir/realm_wasm.d.ts"
  done

  cp -R pkg-template/. pkg/

  # The public names, as the CommonJS entry exports them (`BSON` is exported apart in every entry).
  names=$(node -e '
    const m = require(process.argv[1]);
    console.log(Object.keys(m).filter((k) => k !== "BSON").sort().join(", "));
  ' "$ROOT/pkg/index.cjs")
  if [ -z "$names" ]; then
    echo "error: pkg/index.cjs exports nothing" >&2
    exit 1
  fi
  log "exports: $names, BSON"
  for entry in pkg/index.mjs pkg/browser.mjs; do
    sed -i "s|/\*@EXPORT_NAMES@\*/|$names|" "$entry"
  done
  echo "$stamp" > "$STAMP_FILE"
fi

# Let `require("realm-wasm")` / `import "realm-wasm"` resolve inside this repo (examples, tests, tsc).
mkdir -p node_modules
if [ "$(readlink node_modules/realm-wasm 2>/dev/null)" != "../pkg" ]; then
  rm -rf node_modules/realm-wasm
  ln -s ../pkg node_modules/realm-wasm
  log "linked node_modules/realm-wasm -> ../pkg"
fi

# Smoke check: the optimised module loads through both Node entries and exposes the API.
node -e '
  const cjs = require("realm-wasm");
  for (const name of ["App", "Credentials", "BSON", "MongoDBRealmError"]) {
    if (!cjs[name]) throw new Error(`require("realm-wasm").${name} is missing`);
  }
  import("realm-wasm").then((esm) => {
    if (esm.App !== cjs.App || esm.BSON !== cjs.BSON) throw new Error("ESM and CJS entries differ");
  }).catch((e) => { console.error(e); process.exit(1); });
'
log "pkg/ ready ($(du -sh pkg | cut -f1)); node_modules/realm-wasm -> ../pkg"
