//! The export's `functions/`: the function configs and their sources, in either layout.
//!
//! - Current: `functions/config.json` is an array of `{name, private, run_as_system,
//!   run_as_user_id, run_as_user_id_script_source, can_evaluate, disable_arg_logs}`, each source at
//!   `functions/<name>.js` (a name may hold `/`: `utils/add` is `functions/utils/add.js`).
//! - Older, per folder: `functions/<name>/config.json` (the same keys) beside `source.js`.
//!
//! A source without a config gets the defaults, as App Services' import does. A config without a
//! source, an invalid value or two functions of one name stop start-up naming the file and key;
//! unknown keys warn. Syntax is checked when the runtime compiles the sources (`functions::Functions::new`).

use super::export::{error, read_json, ConfigError, Obj};
use bson::Bson;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Who a function runs as when a client calls it (its "authentication" setting).
#[derive(Debug, Clone, PartialEq)]
pub enum RunAsSetting {
    /// As the calling user (App Services' "application authentication", the default).
    Caller,
    /// As the system user, bypassing rules (`run_as_system`).
    System,
    /// Always as this user id (`run_as_user_id`).
    UserId(String),
    /// As the user whose id this function source returns (`run_as_user_id_script_source`); it may
    /// also return `{runAsSystem: true}`.
    Script(String),
}

/// One function of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// Name (may hold `/`).
    pub name: String,
    /// JavaScript source (`exports = function (...) {...}`).
    pub source: String,
    /// The source file, for error messages.
    pub file: PathBuf,
    /// Callable only from other functions and rules, not from clients.
    pub private: bool,
    /// Who the function runs as.
    pub run_as: RunAsSetting,
    /// `can_evaluate` rule expression (`None`: always allowed, as `{}`).
    pub can_evaluate: Option<Bson>,
    /// Leave the arguments out of the log.
    pub disable_arg_logs: bool,
}

impl FunctionDef {
    /// A function with the default settings (what import gives a source without a config).
    pub fn new(name: &str, source: &str) -> FunctionDef {
        FunctionDef {
            name: name.to_string(),
            source: source.to_string(),
            file: PathBuf::from(format!("functions/{name}.js")),
            private: false,
            run_as: RunAsSetting::Caller,
            can_evaluate: None,
            disable_arg_logs: false,
        }
    }
}

/// The built-in demo app's example function: `user.functions.sum(2, 3)` answers 5.
pub fn demo_functions() -> Vec<FunctionDef> {
    let source = "// The demo app's example function: user.functions.sum(2, 3) resolves to 5.\nexports = function (a, b) {\n  return a + b;\n};\n";
    vec![FunctionDef { file: PathBuf::from("(built-in demo app) functions/sum.js"), ..FunctionDef::new("sum", source) }]
}

/// A `run_as_user_id_script_source` that belongs to no function (an HTTPS endpoint's, the Data
/// API's): it runs in the functions runtime under `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAsScript {
    /// The name it runs (and fails) under.
    pub name: String,
    /// Its source.
    pub source: String,
    /// The config file and key it comes from, for a syntax error.
    pub file: PathBuf,
    /// The key inside it.
    pub key: String,
}

/// The settings read from one config object (manifest entry or per-folder `config.json`).
struct Settings {
    name: Option<String>,
    private: bool,
    run_as: RunAsSetting,
    can_evaluate: Option<Bson>,
    disable_arg_logs: bool,
}

fn read_settings(mut o: Obj<'_>) -> Result<Settings, ConfigError> {
    let name = o.string("name")?;
    o.string("id")?;
    let private = o.bool("private")?.unwrap_or(false);
    let run_as = read_run_as(&mut o)?.unwrap_or(RunAsSetting::Caller);
    let can_evaluate = read_can_evaluate(&mut o)?;
    let disable_arg_logs = o.bool("disable_arg_logs")?.unwrap_or(false);
    o.finish();
    Ok(Settings { name, private, run_as, can_evaluate, disable_arg_logs })
}

/// `run_as_system`, `run_as_user_id`, `run_as_user_id_script_source` (shared with endpoints and the
/// Data API); `None` when none of them is set.
pub(super) fn read_run_as(o: &mut Obj<'_>) -> Result<Option<RunAsSetting>, ConfigError> {
    let system = o.bool("run_as_system")?.unwrap_or(false);
    let user_id = o.string("run_as_user_id")?.filter(|s| !s.is_empty());
    let script = o.string("run_as_user_id_script_source")?.filter(|s| !s.trim().is_empty());
    Ok(match (system, user_id, script) {
        (true, _, _) => Some(RunAsSetting::System),
        (false, Some(_), Some(_)) => {
            return Err(o.err("run_as_user_id", "cannot be given together with run_as_user_id_script_source"))
        }
        (false, Some(id), None) => Some(RunAsSetting::UserId(id)),
        (false, None, Some(source)) => Some(RunAsSetting::Script(source)),
        (false, None, None) => None,
    })
}

/// `can_evaluate`: a rule expression; `None` for an absent, empty (`{}`) or `true` one.
pub(super) fn read_can_evaluate(o: &mut Obj<'_>) -> Result<Option<Bson>, ConfigError> {
    Ok(match o.get("can_evaluate") {
        None => None,
        Some(Value::Object(m)) if m.is_empty() => None,
        Some(Value::Bool(true)) => None,
        Some(v @ (Value::Object(_) | Value::Bool(false))) => {
            Some(Bson::try_from(v.clone()).map_err(|e| o.err("can_evaluate", format!("not a valid expression: {e}")))?)
        }
        Some(_) => return Err(o.err("can_evaluate", "must be a rule expression (an object, or true/false)")),
    })
}

/// A function name usable as a relative path: non-empty segments, none `.` or `..`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\'))
}

fn read_source(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|e| error(file, "-", format!("cannot read the function source: {e}")))
}

/// Every `.js` below `dir` by name (relative path without `.js`), and every older-layout folder
/// (one holding `source.js`) by name.
fn scan(root: &Path, dir: &Path, sources: &mut BTreeMap<String, PathBuf>, folders: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        if path.is_dir() {
            if path.join("source.js").is_file() {
                folders.insert(rel, path);
            } else {
                scan(root, &path, sources, folders);
            }
        } else if let Some(name) = rel.strip_suffix(".js") {
            sources.insert(name.to_string(), path);
        }
    }
}

/// Reads the functions of the export in `dir` (none when it has no `functions/`).
pub fn load_functions(dir: &Path) -> Result<Vec<FunctionDef>, ConfigError> {
    let root = dir.join("functions");
    let (mut sources, mut folders) = (BTreeMap::new(), BTreeMap::new());
    scan(&root, &root, &mut sources, &mut folders);
    let mut defs: BTreeMap<String, FunctionDef> = BTreeMap::new();
    let mut add = |def: FunctionDef, file: &Path, key: &str| -> Result<(), ConfigError> {
        if !valid_name(&def.name) {
            return Err(error(file, key, format!("{:?} is not a function name (non-empty path segments, no '.' or '..')", def.name)));
        }
        match defs.insert(def.name.clone(), def) {
            Some(old) => Err(error(file, key, format!("function {:?} is defined twice", old.name))),
            None => Ok(()),
        }
    };

    // Older layout: one folder per function.
    for (folder_name, folder) in std::mem::take(&mut folders) {
        let config_file = folder.join("config.json");
        let settings = match read_json(&config_file)? {
            Some(json) => read_settings(Obj::new(&config_file, String::new(), &json)?)?,
            None => read_settings(Obj::new(&config_file, String::new(), &Value::Object(Default::default()))?)?,
        };
        let file = folder.join("source.js");
        let name = settings.name.clone().filter(|n| !n.is_empty()).unwrap_or(folder_name);
        let def = FunctionDef {
            name,
            source: read_source(&file)?,
            file: file.clone(),
            private: settings.private,
            run_as: settings.run_as,
            can_evaluate: settings.can_evaluate,
            disable_arg_logs: settings.disable_arg_logs,
        };
        add(def, &config_file, "name")?;
    }

    // Current layout: the manifest, then sources it does not name.
    let manifest = root.join("config.json");
    sources.remove("config");
    if let Some(json) = read_json(&manifest)? {
        let Value::Array(items) = &json else { return Err(error(&manifest, "-", "must be a JSON array of function configs")) };
        for (i, item) in items.iter().enumerate() {
            let key = format!("[{i}]");
            let settings = read_settings(Obj::new(&manifest, key.clone(), item)?)?;
            let Some(name) = settings.name.clone().filter(|n| !n.is_empty()) else {
                return Err(error(&manifest, &format!("{key}.name"), "required"));
            };
            if !valid_name(&name) {
                return Err(error(&manifest, &format!("{key}.name"), format!("{name:?} is not a function name (non-empty path segments, no '.' or '..')")));
            }
            let Some(file) = sources.remove(&name) else {
                return Err(error(&manifest, &format!("{key}.name"), format!("no source for function {name:?}: expected functions/{name}.js")));
            };
            let def = FunctionDef {
                name,
                source: read_source(&file)?,
                file,
                private: settings.private,
                run_as: settings.run_as,
                can_evaluate: settings.can_evaluate,
                disable_arg_logs: settings.disable_arg_logs,
            };
            add(def, &manifest, &format!("{key}.name"))?;
        }
    }
    for (name, file) in sources {
        tracing::info!(file = %file.display(), "function {name:?} has no entry in functions/config.json: default settings");
        let def = FunctionDef { file: file.clone(), ..FunctionDef::new(&name, &read_source(&file)?) };
        add(def, &file, "-")?;
    }
    Ok(defs.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_files::write;

    #[test]
    fn current_layout_with_folders_and_defaults() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        assert!(load_functions(d).expect("no functions/").is_empty());
        write(d, "functions/config.json", r#"[
            {"name": "sum", "private": false},
            {"name": "utils/secret", "private": true, "run_as_system": true, "disable_arg_logs": true, "can_evaluate": {"%%user.id": "x"}},
            {"name": "asUser", "run_as_user_id": "u1", "can_evaluate": {}}
        ]"#);
        write(d, "functions/sum.js", "exports = (a, b) => a + b;");
        write(d, "functions/utils/secret.js", "exports = function () { return 1 };");
        write(d, "functions/asUser.js", "exports = function () { return context.user.id };");
        write(d, "functions/extra.js", "exports = () => 'no config';");
        let defs = load_functions(d).expect("load");
        let names: Vec<&str> = defs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["asUser", "extra", "sum", "utils/secret"]);
        let secret = &defs[3];
        assert!(secret.private && secret.disable_arg_logs && secret.run_as == RunAsSetting::System);
        assert_eq!(secret.can_evaluate, Some(Bson::Document(bson::doc! {"%%user.id": "x"})));
        assert_eq!(defs[0].run_as, RunAsSetting::UserId("u1".into()));
        assert_eq!(defs[0].can_evaluate, None);
        assert_eq!((defs[1].private, &defs[1].run_as), (false, &RunAsSetting::Caller));
    }

    #[test]
    fn older_per_folder_layout() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        write(d, "functions/hello/config.json", r#"{"name": "hello", "private": true, "run_as_user_id_script_source": "exports = () => ({runAsSystem: true})"}"#);
        write(d, "functions/hello/source.js", "exports = () => 'hi';");
        write(d, "functions/bare/source.js", "exports = () => 'bare';");
        let defs = load_functions(d).expect("load");
        assert_eq!(defs.len(), 2);
        assert_eq!((defs[0].name.as_str(), defs[0].private), ("bare", false));
        assert_eq!(defs[1].name, "hello");
        assert!(matches!(defs[1].run_as, RunAsSetting::Script(ref s) if s.contains("runAsSystem")));
        assert!(defs[1].file.ends_with("functions/hello/source.js"));
    }

    #[test]
    fn bad_configs_name_file_and_key() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        write(d, "functions/config.json", r#"[{"name": "missing"}]"#);
        let e = load_functions(d).expect_err("no source");
        assert!(e.file.ends_with("functions/config.json") && e.key == "[0].name" && e.reason.contains("functions/missing.js"), "{e}");
        write(d, "functions/missing.js", "exports = () => 1");
        write(d, "functions/config.json", r#"[{"name": "missing", "private": "no"}]"#);
        assert_eq!(load_functions(d).expect_err("bool").key, "[0].private");
        write(d, "functions/config.json", r#"[{"name": "missing", "run_as_user_id": "u", "run_as_user_id_script_source": "x"}]"#);
        assert_eq!(load_functions(d).expect_err("both").key, "[0].run_as_user_id");
        write(d, "functions/config.json", r#"[{"name": "../x"}]"#);
        assert!(load_functions(d).expect_err("traversal").reason.contains("not a function name"));
        write(d, "functions/config.json", r#"[{"name": "missing", "can_evaluate": 3}]"#);
        assert_eq!(load_functions(d).expect_err("expr").key, "[0].can_evaluate");
        write(d, "functions/config.json", r#"{"name": "missing"}"#);
        assert!(load_functions(d).expect_err("not array").reason.contains("array"));
        write(d, "functions/config.json", r#"[{"name": "missing"}, {"name": "missing"}]"#);
        assert!(load_functions(d).expect_err("twice").reason.contains("no source"), "the second entry finds its source taken");
        write(d, "functions/config.json", "[]");
        write(d, "functions/missing/source.js", "exports = () => 2");
        assert!(load_functions(d).expect_err("twice").reason.contains("defined twice"));
    }
}
