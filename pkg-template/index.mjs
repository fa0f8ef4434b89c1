// realm-wasm entry for Node's `import`: the same module instance as the `require` entry.
import realm from "./index.cjs";

// The list below is filled in by scripts/build-pkg.sh from index.cjs's exports.
export const { /*@EXPORT_NAMES@*/ } = realm;
export const BSON = realm.BSON;
export default realm;
