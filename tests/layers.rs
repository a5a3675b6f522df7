//! The code's layer rules, checked over its source (`cargo test --test layers`):
//!
//! - **No import circles**: within each Rust crate, no two files reach each other through
//!   `crate::`/`super::`/`self::` paths, directly or round a longer loop; in the UI, no two
//!   modules import each other. A module naming its own submodules is containment, not a
//!   dependency; test code (`#[cfg(test)]` to the end of a file, `*_tests.rs`) is left out.
//! - **The transports reach only the engine's door**: the HTTP crate, the CLI and the desktop
//!   name no ledger, workflow, scheduler or store module of the engine.
//! - **Pixels know nothing of the engine**: `figur-pixels` has no engine, model or ledger
//!   dependency (its Cargo.toml), so the compiler refuses such an import.
//!
//! A small reader of `use` lines and paths, not a compiler: it errs on the side of seeing an
//! edge (a path in a string would count), never of missing one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "node_modules" && name != "dist" {
                files_under(&path, ext, out);
            }
        } else if ext.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The module path of a Rust file below `src`: `a/b.rs` and `a/b/mod.rs` are `[a, b]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file without its tests and comments.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    body.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every path the code names from `crate`, `super` or `self`, as segments from the crate root
/// (use trees' braces expanded one level at a time).
fn paths_named(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let starts_word = i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == b':');
        let head = ["crate::", "super::", "self::"].into_iter().find(|h| code[i..].starts_with(h));
        match head {
            Some(h) if starts_word => {
                let (taken, end) = path_at(code, i);
                // `self` is the file's own module (`a/b.rs` and `a/b/mod.rs` are both `a::b`).
                let here: Vec<String> = module.to_vec();
                for segments in taken {
                    let mut base = match h {
                        "crate::" => Vec::new(),
                        "self::" => here.clone(),
                        _ => here[..here.len().saturating_sub(1)].to_vec(),
                    };
                    let mut rest = segments.into_iter().skip(1).peekable();
                    // `super::super::x`
                    while rest.peek().map(String::as_str) == Some("super") {
                        rest.next();
                        base.pop();
                    }
                    base.extend(rest);
                    out.push(base);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// The path (or use tree) starting at `at`: each leaf path as segments, and where it ends.
fn path_at(code: &str, at: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let mut segments = Vec::new();
    let mut i = at;
    loop {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i > start {
            segments.push(code[start..i].to_string());
        }
        if code[i..].starts_with("::{") {
            // A use tree: each top-level item, read as a path of its own.
            let open = i + 2;
            let mut depth = 0;
            let mut close = open;
            for (k, c) in code[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = open + k;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let inner = &code[open + 1..close];
            let mut leaves = Vec::new();
            let mut depth = 0;
            let mut item_start = 0;
            for (k, c) in inner.char_indices().chain(std::iter::once((inner.len(), ','))) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let item = inner[item_start..k].trim();
                        item_start = k + 1;
                        if item.is_empty() {
                            continue;
                        }
                        let item = item.split(" as ").next().unwrap().trim();
                        if item == "self" {
                            leaves.push(segments.clone());
                            continue;
                        }
                        let (sub, _) = path_at(item, 0);
                        for s in sub {
                            leaves.push(segments.iter().cloned().chain(s).collect());
                        }
                    }
                    _ => {}
                }
            }
            return (leaves, close + 1);
        }
        if code[i..].starts_with("::") {
            i += 2;
            continue;
        }
        return (vec![segments], i);
    }
}

/// The file a path lands in: the longest prefix of it that is a module with a file.
fn target<'a>(modules: &'a BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<&'a PathBuf> {
    (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

/// Strongly connected groups of more than one node (Tarjan).
fn circles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct State<N> {
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on: BTreeSet<N>,
        found: Vec<Vec<N>>,
    }
    fn visit<N: Ord + Clone>(n: &N, edges: &BTreeMap<N, BTreeSet<N>>, s: &mut State<N>) {
        let i = s.index.len();
        s.index.insert(n.clone(), i);
        s.low.insert(n.clone(), i);
        s.stack.push(n.clone());
        s.on.insert(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if !s.index.contains_key(m) {
                visit(m, edges, s);
                let low = s.low[n].min(s.low[m]);
                s.low.insert(n.clone(), low);
            } else if s.on.contains(m) {
                let low = s.low[n].min(s.index[m]);
                s.low.insert(n.clone(), low);
            }
        }
        if s.low[n] == s.index[n] {
            let mut group = Vec::new();
            loop {
                let m = s.stack.pop().unwrap();
                s.on.remove(&m);
                let done = &m == n;
                group.push(m);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        found: Vec::new(),
    };
    for n in edges.keys() {
        if !s.index.contains_key(n) {
            visit(n, edges, &mut s);
        }
    }
    s.found
}

/// The file-to-file edges of one Rust crate.
fn rust_edges(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    files_under(src, &[".rs"], &mut files);
    files.retain(|f| {
        let name = f.file_name().unwrap().to_string_lossy();
        !name.ends_with("_tests.rs") && name != "tests.rs" && name != "fakes.rs"
    });
    let modules: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(src, f), f.clone())).collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let mut reached = BTreeSet::new();
        for path in paths_named(&code, &module) {
            let Some(to) = target(&modules, &path) else { continue };
            let to_module = module_of(src, to);
            // A module naming its own descendants (or itself) is containment.
            if to_module.starts_with(&module) {
                continue;
            }
            reached.insert(to.clone());
        }
        edges.insert(file.clone(), reached);
    }
    edges
}

fn named(paths: &[PathBuf]) -> String {
    let root = root();
    paths.iter().map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string()).collect::<Vec<_>>().join(" ↔ ")
}

const RUST_CRATES: &[&str] =
    &["crates/engine/src", "crates/http/src", "crates/models/src", "crates/pixels/src", "src", "src-tauri/src"];

#[test]
fn no_rust_file_reaches_round_to_itself() {
    let mut found = Vec::new();
    for krate in RUST_CRATES {
        for group in circles(&rust_edges(&root().join(krate))) {
            found.push(named(&group));
        }
    }
    assert!(found.is_empty(), "import circles (break each by moving what both need below both):\n{}", found.join("\n"));
}

/// The UI's import edges: relative imports between `.ts` and `.svelte` modules.
fn ui_edges() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let src = root().join("ui/src");
    let mut files = Vec::new();
    files_under(&src, &[".ts", ".svelte"], &mut files);
    files.retain(|f| !f.to_string_lossy().ends_with(".test.ts"));
    let known: BTreeSet<PathBuf> = files.iter().cloned().collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut reached = BTreeSet::new();
        for part in text.split(" from \"").skip(1).chain(text.split("import \"").skip(1)) {
            let spec = part.split('"').next().unwrap();
            if !spec.starts_with('.') {
                continue;
            }
            let base = file.parent().unwrap().join(spec);
            let candidates = [base.clone(), base.with_extension("ts"), PathBuf::from(format!("{}.ts", base.display()))];
            if let Some(to) = candidates.iter().map(|c| normalise(c)).find(|c| known.contains(c)) {
                reached.insert(to);
            }
        }
        edges.insert(file.clone(), reached);
    }
    edges
}

fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn no_ui_module_imports_round_to_itself() {
    let found: Vec<String> = circles(&ui_edges()).iter().map(|g| named(g)).collect();
    assert!(found.is_empty(), "UI import circles:\n{}", found.join("\n"));
}

/// Engine modules behind the door: the transports go through `Engine` and the domain types.
const INSIDE_THE_ENGINE: &[&str] =
    &["ledger", "workflow", "scheduler", "store", "upload", "bus", "realm", "budget", "privacy", "signing"];

#[test]
fn the_transports_reach_only_the_engines_door() {
    let mut found = Vec::new();
    for transport in ["crates/http/src", "src", "src-tauri/src"] {
        let mut files = Vec::new();
        files_under(&root().join(transport), &[".rs"], &mut files);
        for file in files {
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            for inside in INSIDE_THE_ENGINE {
                let uses = format!("figur_engine::{inside}::");
                let grouped = format!("figur_engine::{{{inside}");
                if code.contains(&uses) || code.contains(&grouped) {
                    found.push(format!("{} names figur_engine::{inside}", named(std::slice::from_ref(&file))));
                }
            }
        }
    }
    assert!(found.is_empty(), "a transport reaching past the engine's door:\n{}", found.join("\n"));
}

#[test]
fn the_pixels_crate_depends_on_no_engine() {
    let manifest = std::fs::read_to_string(root().join("crates/pixels/Cargo.toml")).unwrap();
    for crate_name in ["figur-engine", "figur-models", "rusqlite", "postgres", "ort"] {
        assert!(!manifest.contains(&format!("\n{crate_name}")), "figur-pixels depends on {crate_name}");
    }
}

#[test]
fn the_reader_sees_the_paths_code_names() {
    let module = vec!["workflow".to_string(), "try_on".to_string()];
    let code = "use crate::ledger::{self, jobs::Claim, Db};\nlet x = super::person::find(1); self::inner::f();";
    let mut seen = paths_named(code, &module);
    seen.sort();
    let as_text: Vec<String> = seen.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        as_text,
        ["ledger", "ledger::Db", "ledger::jobs::Claim", "workflow::person::find", "workflow::try_on::inner::f"]
    );
    let edges: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2].into()), (2, [3].into()), (3, [1].into()), (4, [1].into())].into_iter().collect();
    assert_eq!(circles(&edges), vec![vec![1, 2, 3]]);
}
