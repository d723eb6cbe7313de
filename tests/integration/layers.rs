//! The top-level modules of `src/` depend on each other one way, down the
//! layers of the pipeline: no import cycle, and none can creep back in.
//!
//! Run it alone with `cargo test --test integration layers::`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may use only the modules before it.
/// Models; then the effects and the remediations built on them, which
/// declare their own contracts (a rule names the remediation it plans, so
/// remediations sit below the rules); then the pure core (rules, config,
/// engine); then alerts and the executor; then the use cases (the live
/// path, the scan, replay); then the entry points. This is the one place
/// the order is written; the README's layout section describes the same one.
const LAYERS: &[&str] = &[
    "event",
    "inventory",
    "effects",
    "remediate",
    "rules",
    "config",
    "engine",
    "alert",
    "executor",
    "live",
    "scan",
    "replay",
    "policy",
    "lambda",
    "cli",
];

/// Every top-level module of the library and the files that hold it.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(src).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        // The crate root and the binaries sit above every layer.
        if name == "lib" || name == "bin" {
            continue;
        }
        let files = modules.entry(name).or_default();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    modules
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code that is compiled into the library. Test modules are left out:
/// their helpers may build a whole `Config` from TOML, as a user writes it,
/// to exercise a rule, without the rule itself depending on the config.
fn production_code(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs" || name == "testing.rs" {
        return None;
    }
    let text = fs::read_to_string(path).ok()?;
    Some(match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text,
    })
}

/// The top-level modules a piece of code names: `crate::x` paths and the
/// first segment of each item of a `use crate::{x, y::z}` group.
fn referenced(code: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.push(ident(rest));
            continue;
        };
        // The items of the group, split at its own commas only.
        let (mut depth, mut start) = (0usize, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.push(ident(&group[start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(ident(&group[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let unplaced: Vec<_> = modules(&src)
        .into_keys()
        .filter(|m| !LAYERS.contains(&m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules with no place in LAYERS (tests/integration/layers.rs): {unplaced:?}"
    );
}

#[test]
fn top_level_modules_depend_only_on_the_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut upward = Vec::new();
    for (module, files) in modules(&src) {
        let Some(own) = rank(&module) else { continue };
        for file in files {
            let Some(code) = production_code(&file) else {
                continue;
            };
            for target in referenced(&code) {
                if let Some(other) = rank(&target)
                    && other >= own
                    && target != module
                {
                    upward.push(format!(
                        "{} uses crate::{target}",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "dependencies that point up the layers (order in tests/integration/layers.rs):\n{}",
        upward.join("\n")
    );
}

#[test]
fn references_are_read_from_paths_and_use_groups() {
    let code = "use crate::rules::{Finding};\nuse crate::{config::Config, event::{self, X}};\nlet x = crate::alert::cut(s);";
    assert_eq!(referenced(code), ["rules", "config", "event", "alert"]);
}
