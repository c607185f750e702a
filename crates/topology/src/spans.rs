//! The span index: where each field path of a topology file is written.
//!
//! Paths join mapping keys with `.` and list positions with `[N]`, such as
//! `nodes.r1.interfaces.eth0.mtu` or `links[1].endpoints[0]`.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::Pos;

/// Where every key and value of a file is, and which fields failed to decode.
#[derive(Debug, Default, Clone)]
pub(crate) struct Spans {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
    bad: HashSet<String>,
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The path one level up: `a.b[2]` → `a.b` → `a` → ``.
fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

impl Spans {
    /// Records where the key of `path` is.
    pub fn key_at(&mut self, path: &str, pos: Pos) {
        self.keys.entry(path.to_string()).or_insert(pos);
    }

    /// Records where the value of `path` is.
    pub fn value_at(&mut self, path: &str, pos: Pos) {
        self.values.entry(path.to_string()).or_insert(pos);
    }

    /// Marks `path` as not decoded, so checks that depend on it are skipped.
    pub fn mark_bad(&mut self, path: &str) {
        self.bad.insert(path.to_string());
    }

    /// True if `path` or any field under it failed to decode.
    pub fn is_bad(&self, path: &str) -> bool {
        self.bad.iter().any(|b| {
            b == path
                || (b.starts_with(path)
                    && matches!(b.as_bytes().get(path.len()), Some(b'.' | b'[')))
        })
    }

    /// Where the value of `path` is written; for a missing value, its key, else the nearest
    /// written parent, else the start of the file.
    pub fn value(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p).or_else(|| self.keys.get(p)) {
                return *pos;
            }
            if p.is_empty() {
                return Pos::START;
            }
            p = parent(p);
        }
    }

    /// Where the key of `path` is written, else where its value is (list items have no key).
    pub fn key(&self, path: &str) -> Pos {
        match self.keys.get(path) {
            Some(pos) => *pos,
            None => self.value(path),
        }
    }

    /// The path whose value starts at `pos`, if one does (the longest, so the innermost).
    pub fn path_at(&self, pos: Pos) -> Option<&str> {
        self.values
            .iter()
            .chain(self.keys.iter())
            .filter(|(_, p)| **p == pos)
            .map(|(k, _)| k.as_str())
            .max_by_key(|k| k.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_fall_back_to_parents() {
        let mut s = Spans::default();
        let p = |line| Pos { line, column: 3 };
        s.key_at("nodes", p(2));
        s.value_at("nodes.r1", p(3));
        s.key_at("nodes.r1", p(3));
        assert_eq!(s.value("nodes.r1.interfaces.eth0.mtu"), p(3));
        assert_eq!(s.value("links[0].endpoints[1]"), Pos::START);
        assert_eq!(parent("links[0].endpoints[1]"), "links[0].endpoints");
        assert_eq!(parent("links[0]"), "links");
        s.mark_bad("links[0].endpoints[1]");
        assert!(s.is_bad("links[0].endpoints"));
        assert!(s.is_bad("links"));
        assert!(!s.is_bad("links[1]"));
        assert!(!s.is_bad("link"));
    }
}
