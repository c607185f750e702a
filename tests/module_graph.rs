//! The shape of the workspace: no crate depends on a crate above it in a fixed layering, and
//! inside every crate no two modules use each other, directly or around a circle.
//!
//! Modules are read from each crate's `src` tree (`a.rs`, `a/mod.rs`, `a/b.rs`); a module uses
//! a sibling when its files name it through `crate::…`, `super::…` or a `use` group of them.
//! Comments and the `#[cfg(test)]` part at the end of a file are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's crates, lowest first: each may depend only on crates before it.
const LAYERS: &[&str] = &[
    "umlvnf-names",
    "umlvnf-kernel",
    "umlvnf-packet",
    "umlvnf-host",
    "umlvnf-topology",
    "umlvnf-datapath-spec",
    "umlvnf-plan",
    "umlvnf-guest",
    "umlvnf-image",
    "umlvnf-agent",
    "umlvnf-datapath",
    "umlvnf-metrics",
    "umlvnf-lab",
    "umlvnf-bench",
    "umlvnf",
    "umlvnf-fuzz",
];

/// Crates left out of the circle check. Empty: every crate's modules form no circle; a crate
/// may be listed here only while a circle in it is being untangled.
const CIRCLES_NOT_CHECKED: &[&str] = &[];

/// A module path inside a crate, such as `["runtime", "deploy"]`.
type ModPath = Vec<String>;

/// Every crate directory of the workspace: the root and `crates/*`.
fn crate_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.clone()];
    let mut members: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    members.sort();
    dirs.extend(members);
    dirs
}

/// The `name` of a manifest's `[package]` and the workspace crates in its `[dependencies]`.
fn manifest(dir: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml is readable");
    let mut section = String::new();
    let mut name = String::new();
    let mut deps = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        if section == "[package]" && key == "name" {
            name = value.trim().trim_matches('"').to_string();
        }
        if section == "[dependencies]" && key.starts_with("umlvnf") {
            deps.push(key.to_string());
        }
    }
    (name, deps)
}

#[test]
fn no_crate_depends_on_a_crate_above_it() {
    let mut problems = Vec::new();
    for dir in crate_dirs() {
        let (name, deps) = manifest(&dir);
        let Some(level) = LAYERS.iter().position(|l| *l == name) else {
            problems.push(format!(
                "crate `{name}` ({}) has no place in LAYERS of tests/module_graph.rs: add it above \
                 the crates it depends on",
                dir.display()
            ));
            continue;
        };
        for dep in deps {
            match LAYERS.iter().position(|l| *l == dep) {
                Some(d) if d < level => {}
                Some(_) => problems.push(format!(
                    "`{name}` depends on `{dep}`, which is not below it in LAYERS"
                )),
                None => problems.push(format!(
                    "`{name}` depends on `{dep}`, which is not in LAYERS"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The module path of a source file relative to `src`, or `None` for a crate root.
fn module_of(rel: &Path) -> Option<ModPath> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    if stem != "mod" && !(parts.is_empty() && (stem == "lib" || stem == "main")) {
        parts.push(stem.to_string());
    }
    (!parts.is_empty()).then_some(parts)
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its trailing `#[cfg(test)]` part.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first identifier of `s`, if it starts with one.
fn ident(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// The paths a group `{a, b::c, d::{e}}` starts with (its first identifiers).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    let bytes = group.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                if let Some(h) = ident(group[start..i].trim()) {
                    heads.push(h.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if let Some(h) = ident(group[start..].trim()) {
        heads.push(h.to_string());
    }
    heads
}

/// The absolute paths (first segment after the base) a module's code names through `crate::`
/// and `super::`.
fn references(module: &[String], code: &str) -> Vec<ModPath> {
    let mut out = Vec::new();
    let starts_path = |at: usize| {
        at == 0 || {
            let c = code.as_bytes()[at - 1];
            !(c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        }
    };
    for (at, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if !starts_path(at) {
            continue;
        }
        let mut rest = &code[at..];
        let base: ModPath = if rest.starts_with("crate::") {
            rest = &rest["crate::".len()..];
            Vec::new()
        } else {
            // `super` of module `a::b` (`a/b.rs` or `a/b/mod.rs`) is `a`.
            let mut base = module.to_vec();
            base.pop();
            rest = &rest["super::".len()..];
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            base
        };
        let heads = if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            group_heads(&group[..end])
        } else {
            ident(rest).map(|h| vec![h.to_string()]).unwrap_or_default()
        };
        for h in heads {
            if h == "self" {
                continue;
            }
            let mut path = base.clone();
            path.push(h);
            out.push(path);
        }
    }
    out
}

/// A circle in `graph`, as the names along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_uses_itself_around_a_circle() {
    let mut problems = Vec::new();
    for dir in crate_dirs() {
        let (name, _) = manifest(&dir);
        if CIRCLES_NOT_CHECKED.contains(&name.as_str()) {
            continue;
        }
        let src = dir.join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        let mut modules: BTreeSet<ModPath> = BTreeSet::new();
        let mut parsed = Vec::new();
        for f in &files {
            let rel = f.strip_prefix(&src).expect("under src");
            let module = module_of(rel).unwrap_or_default();
            if rel.iter().next().is_some_and(|p| p == "bin") {
                continue;
            }
            if !module.is_empty() {
                modules.insert(module.clone());
            }
            let text = std::fs::read_to_string(f).expect("source is readable");
            parsed.push((module, code_of(&text)));
        }
        // Edges between siblings: the parent's path, then `from -> to`.
        let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for (module, code) in &parsed {
            for target in references(module, code) {
                let common = module
                    .iter()
                    .zip(&target)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common >= module.len() || common >= target.len() {
                    continue;
                }
                if !modules.contains(&target[..=common]) {
                    continue;
                }
                graphs
                    .entry(module[..common].to_vec())
                    .or_default()
                    .entry(module[common].clone())
                    .or_default()
                    .insert(target[common].clone());
            }
        }
        for (parent, graph) in &graphs {
            if let Some(cycle) = find_cycle(graph) {
                let place = if parent.is_empty() {
                    "the crate root".to_string()
                } else {
                    format!("`{}`", parent.join("::"))
                };
                problems.push(format!(
                    "{name}: modules of {place} use each other: {}",
                    cycle.join(" -> ")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_finds_uses_and_circles() {
    let module = vec!["a".to_string(), "b".to_string()];
    let code = code_of("use super::{c, d::e};\n// crate::ignored\nfn f() { crate::g::h(); }\n");
    let found: Vec<String> = references(&module, &code)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(found, ["g", "a::c", "a::d"]);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("x".into()).or_default().insert("y".into());
    assert!(find_cycle(&graph).is_none());
    graph.entry("y".into()).or_default().insert("x".into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["x".into(), "y".into(), "x".into()])
    );
}
