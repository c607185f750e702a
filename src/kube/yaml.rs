//! A small YAML writer for the manifests: block mappings and sequences in the order they are
//! built, with comments, plain scalars where that cannot be misread, and everything else
//! double-quoted.
//!
//! A double-quoted scalar is written as a JSON string, which YAML reads back as the same text.

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// A string: plain when unambiguous, else double-quoted.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A multi-line text written as a literal block (`|`) when that keeps it exact, else
    /// double-quoted.
    Text(String),
    /// A block sequence.
    Seq(Vec<Yaml>),
    /// A block mapping, in this order.
    Map(Vec<Entry>),
}

/// One key of a mapping, with the comment written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: Yaml,
    /// Comment lines written above the key (without `# `).
    pub comment: Option<String>,
}

/// A mapping from `(key, value)` pairs.
pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Yaml {
    Yaml::Map(
        entries
            .into_iter()
            .map(|(k, v)| Entry {
                key: k.into(),
                value: v,
                comment: None,
            })
            .collect(),
    )
}

/// A string value.
pub fn s(text: impl Into<String>) -> Yaml {
    Yaml::Str(text.into())
}

/// A sequence of strings.
pub fn strs<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Yaml {
    Yaml::Seq(items.into_iter().map(|i| Yaml::Str(i.into())).collect())
}

impl Yaml {
    /// Puts `comment` above `key` of this mapping (no effect on other values or keys).
    pub fn with_comment(mut self, key: &str, comment: impl Into<String>) -> Yaml {
        if let Yaml::Map(entries) = &mut self {
            if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
                e.comment = Some(comment.into());
            }
        }
        self
    }

    /// The value as a YAML document body (each line ends with a newline).
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            Yaml::Map(entries) => write_map(&mut out, entries, 0),
            Yaml::Seq(items) => write_seq(&mut out, items, 0),
            Yaml::Text(t) => {
                out.push_str(&scalar(t));
                out.push('\n');
            }
            other => {
                out.push_str(&inline(other).unwrap_or_default());
                out.push('\n');
            }
        }
        out
    }
}

/// Whether `text` can be written as a plain scalar and read back as the same string: ASCII
/// letters, digits and `._/:-`, starting with a letter or `/`, not ending with `:`, and not a
/// word YAML reads as a boolean or null.
fn plain_ok(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    (first.is_ascii_alphabetic() || first == '/')
        && !text.ends_with(':')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | ':' | '-'))
        && !text.contains("::")
        && !reserved.contains(&text.to_ascii_lowercase().as_str())
}

/// `text` as a scalar on one line.
fn scalar(text: &str) -> String {
    if plain_ok(text) {
        text.to_string()
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

/// Whether `text` written as a literal block (`|`, clipped) reads back exactly: it ends with
/// one newline, its first line starts with no blank, its last line is not blank, and it holds
/// no character YAML must escape.
fn block_ok(text: &str) -> bool {
    let Some(body) = text.strip_suffix('\n') else {
        return false;
    };
    !body.is_empty()
        && !body.ends_with('\n')
        && !body.starts_with([' ', '\t'])
        && body.lines().last().is_some_and(|l| !l.trim().is_empty())
        && text
            .chars()
            .all(|c| c == '\n' || c == '\t' || (!c.is_control() && c != '\u{feff}'))
}

/// A scalar written after `key:` or `- `, or `None` for a collection or a literal block.
fn inline(v: &Yaml) -> Option<String> {
    match v {
        Yaml::Str(t) => Some(scalar(t)),
        Yaml::Int(i) => Some(i.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Text(t) if !block_ok(t) => Some(scalar(t)),
        Yaml::Seq(items) if items.is_empty() => Some("[]".into()),
        Yaml::Map(entries) if entries.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn pad(out: &mut String, indent: usize) {
    out.push_str(&" ".repeat(indent));
}

/// Longest comment line, indentation included (longer lines are wrapped between words).
const COMMENT_WIDTH: usize = 96;

fn write_comment(out: &mut String, comment: &str, indent: usize) {
    let width = COMMENT_WIDTH.saturating_sub(indent + 2).max(40);
    for line in comment.lines() {
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > width {
                pad(out, indent);
                out.push_str("# ");
                out.push_str(&current);
                out.push('\n');
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        pad(out, indent);
        if current.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(&current);
            out.push('\n');
        }
    }
}

/// Writes what follows `key:` or `- ` (the line's start is written already) and the lines of
/// a nested value at `indent`.
fn write_value(out: &mut String, v: &Yaml, indent: usize) {
    if let Some(text) = inline(v) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    match v {
        Yaml::Text(t) => {
            out.push_str(" |\n");
            for line in t.lines() {
                if !line.is_empty() {
                    pad(out, indent);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Yaml::Map(entries) => {
            out.push('\n');
            write_map(out, entries, indent);
        }
        Yaml::Seq(items) => {
            out.push('\n');
            write_seq(out, items, indent);
        }
        _ => {}
    }
}

fn write_map(out: &mut String, entries: &[Entry], indent: usize) {
    for e in entries {
        if let Some(c) = &e.comment {
            write_comment(out, c, indent);
        }
        pad(out, indent);
        out.push_str(&scalar(&e.key));
        out.push(':');
        write_value(out, &e.value, indent + 2);
    }
}

/// Sequences are indented under their key, as `kubectl` writes them; a mapping item starts
/// on the `- ` line.
fn write_seq(out: &mut String, items: &[Yaml], indent: usize) {
    for item in items {
        match item {
            Yaml::Map(entries) if !entries.is_empty() => {
                let mut first = true;
                for e in entries {
                    if let Some(c) = &e.comment {
                        write_comment(out, c, indent + 2);
                    }
                    pad(out, indent);
                    out.push_str(if first { "- " } else { "  " });
                    first = false;
                    out.push_str(&scalar(&e.key));
                    out.push(':');
                    write_value(out, &e.value, indent + 4);
                }
            }
            _ => {
                pad(out, indent);
                out.push('-');
                write_value(out, item, indent + 2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> serde_json::Value {
        serde_saphyr::from_str(text).expect("valid YAML")
    }

    #[test]
    fn scalars_read_back_as_written() {
        for text in [
            "umlvnf:latest",
            "/metrics",
            "true",
            "9477",
            "$(POD_IP):9477",
            "a b",
            "",
            "no",
            "x: y",
            "#x",
            "-x",
            "a\"b\\c\n",
            "ünïcode",
        ] {
            let doc = map([("k", s(text))]).render();
            assert_eq!(parse(&doc)["k"], serde_json::json!(text), "{doc}");
        }
        let doc = map([("n", Yaml::Int(9477)), ("b", Yaml::Bool(true))]).render();
        assert_eq!(parse(&doc), serde_json::json!({"n": 9477, "b": true}));
    }

    #[test]
    fn texts_stay_exact_as_blocks_or_quoted() {
        for text in [
            "name: x\nnodes:\n  r1: {}\n",
            "a\n\n  b\n\tc\n",
            "no newline at the end",
            "two newlines\n\n",
            "  leading blank\n",
            "trailing blank line\n  \n",
            "\n",
            "",
            "carriage\r\nreturn\n",
        ] {
            let doc = map([("data", map([("f", Yaml::Text(text.into()))]))]).render();
            assert_eq!(parse(&doc)["data"]["f"], serde_json::json!(text), "{doc}");
        }
        let doc = map([("f", Yaml::Text("a: 1\nb: 2\n".into()))]).render();
        assert_eq!(doc, "f: |\n  a: 1\n  b: 2\n");
    }

    #[test]
    fn long_comments_are_wrapped_between_words() {
        let long = "word ".repeat(40);
        let doc = map([("k", s("v"))]).with_comment("k", long.trim()).render();
        let lines: Vec<&str> = doc.lines().collect();
        assert!(lines.len() > 2, "{doc}");
        assert!(lines.iter().all(|l| l.len() <= COMMENT_WIDTH), "{doc}");
        assert_eq!(parse(&doc), serde_json::json!({"k": "v"}));
    }

    #[test]
    fn nesting_and_comments() {
        let v = map([
            ("a", map([("b", strs(["x", "z"]))])),
            (
                "c",
                Yaml::Seq(vec![map([("name", s("m")), ("v", map([("k", s("w"))]))])]),
            ),
            ("e", Yaml::Seq(vec![])),
        ])
        .with_comment("c", "two\nlines");
        let doc = v.render();
        assert_eq!(
            doc,
            "a:\n  b:\n    - x\n    - z\n# two\n# lines\nc:\n  - name: m\n    v:\n      k: w\ne: []\n"
        );
        assert_eq!(
            parse(&doc),
            serde_json::json!({"a": {"b": ["x", "z"]}, "c": [{"name": "m", "v": {"k": "w"}}], "e": []})
        );
    }
}
