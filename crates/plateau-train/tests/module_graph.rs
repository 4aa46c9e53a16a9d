//! plateau-train's files import each other without cycles: `crate::…` paths between source
//! files form a DAG (a parent `mod.rs` naming its children is not an import). Guards the
//! regrouping into `run/` and `sweep/`, so the loop and the sweep stay readable one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `run/train.rs` → `run::train`, `run/mod.rs` → `run`, `lib.rs` → ``.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod" && p != "lib")
        .collect();
    parts.join("::")
}

/// The modules of every `crate::a::b::…` path in the code of `text` (comments skipped).
fn imported_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let path: Vec<String> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            paths.push(path);
        }
    }
    paths
}

#[test]
fn source_files_import_each_other_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    assert!(modules.contains_key("run::train") && modules.contains_key("sweep::runner"));
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        for path in imported_paths(&text) {
            // The longest prefix of the path that is a file; the crate root re-exports only.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|prefix| modules.contains_key(prefix));
            if let Some(target) = target.filter(|t| t != module) {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    // Depth-first search; a module met again while on the stack closes a cycle.
    fn visit(
        module: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(module) {
            return;
        }
        if let Some(at) = stack.iter().position(|m| m == module) {
            panic!("import cycle: {} → {module}", stack[at..].join(" → "));
        }
        stack.push(module.to_string());
        for next in edges.get(module).into_iter().flatten() {
            visit(next, edges, stack, done);
        }
        stack.pop();
        done.insert(module.to_string());
    }
    let mut done = BTreeSet::new();
    for module in modules.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done);
    }
    assert!(edges["run::train"].contains("run::checkpoint"), "{edges:?}");
}
