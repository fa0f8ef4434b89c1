//! For the export readers' tests: writing an export's files.

use std::path::Path;

/// Writes `text` to `rel` under `dir`, making its folders.
pub(super) fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}
