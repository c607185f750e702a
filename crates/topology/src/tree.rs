//! YAML text to a small located tree, built from `saphyr-parser` events.
//!
//! The tree keeps the line and column of every key and value so that the decoder can report
//! every problem with its place. Anchors and aliases are expanded, within a size budget.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::diagnostic::Pos;

/// Deepest nesting accepted; topology files need about 6 levels.
const MAX_DEPTH: usize = 64;
/// Most nodes accepted in the tree, aliases expanded (guards against alias bombs).
const MAX_NODES: usize = 200_000;

/// A YAML value with the position where it starts.
#[derive(Debug, Clone)]
pub(crate) struct YNode {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub value: YValue,
}

/// The shape of a YAML value.
#[derive(Debug, Clone)]
pub(crate) enum YValue {
    /// A mapping, entries in file order (duplicates kept, the decoder reports them).
    Map(Vec<Entry>),
    /// A sequence.
    Seq(Vec<YNode>),
    /// A scalar.
    Scalar(Scalar),
}

/// One `key: value` entry of a mapping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key text.
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: YNode,
}

/// A scalar's text and whether it was written plain (unquoted, untagged).
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    /// The text after YAML unescaping and folding.
    pub text: String,
    /// Plain (unquoted) scalars may be null, booleans or numbers; quoted ones are text.
    pub plain: bool,
}

impl Scalar {
    /// True for an empty plain scalar, `~` or `null` (any case form YAML allows).
    pub fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

impl YNode {
    /// A short description of the value's kind, for messages (`a list`, `text \`x\``).
    pub fn describe(&self) -> String {
        match &self.value {
            YValue::Map(_) => "a mapping".to_string(),
            YValue::Seq(_) => "a list".to_string(),
            YValue::Scalar(s) if s.is_null() => "nothing (null)".to_string(),
            YValue::Scalar(s) => {
                let mut t: String = s.text.chars().take(40).collect();
                if t.len() < s.text.len() {
                    t.push('…');
                }
                format!("`{}`", t.escape_debug())
            }
        }
    }

    fn count(&self) -> usize {
        match &self.value {
            YValue::Map(entries) => 1 + entries.iter().map(|e| 1 + e.value.count()).sum::<usize>(),
            YValue::Seq(items) => 1 + items.iter().map(YNode::count).sum::<usize>(),
            YValue::Scalar(_) => 1,
        }
    }
}

/// A YAML syntax problem: where, and what.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

fn pos_of(m: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line().max(1),
        column: m.col() + 1,
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<YNode>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
    },
}

/// Applies YAML merge keys: `<<: *anchor` (or a list of them) adds the anchored mapping's
/// entries that the mapping does not set itself. A `<<` whose value is not a mapping is kept,
/// so the decoder reports it as an unknown field.
fn merge_keys(entries: Vec<Entry>) -> Vec<Entry> {
    let is_merge = |e: &Entry| {
        e.key == "<<"
            && match &e.value.value {
                YValue::Map(_) => true,
                YValue::Seq(items) => items.iter().all(|i| matches!(i.value, YValue::Map(_))),
                YValue::Scalar(_) => false,
            }
    };
    if !entries.iter().any(is_merge) {
        return entries;
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(is_merge);
    for merge in merges {
        let sources = match merge.value.value {
            YValue::Map(es) => vec![es],
            YValue::Seq(items) => items
                .into_iter()
                .filter_map(|i| match i.value {
                    YValue::Map(es) => Some(es),
                    _ => None,
                })
                .collect(),
            YValue::Scalar(_) => Vec::new(),
        };
        for source in sources {
            for e in source {
                if !own.iter().any(|o| o.key == e.key) {
                    own.push(e);
                }
            }
        }
    }
    own
}

/// Parses `text` as a single YAML document into a located tree.
///
/// Returns `Ok(None)` for a file with no document at all.
pub(crate) fn parse(text: &str) -> Result<Option<YNode>, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, YNode> = HashMap::new();
    let mut root: Option<YNode> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;
    let fail = |pos: Pos, message: &str| SyntaxError {
        pos,
        message: message.to_string(),
    };
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| SyntaxError {
            pos: pos_of(e.marker()),
            message: format!("the YAML syntax is invalid here: {}", e.info()),
        })?;
        let pos = pos_of(&span.start);
        let is_seq = matches!(event, Event::SequenceStart(..));
        let (done, anchor) = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(fail(
                        pos,
                        "a topology file holds exactly one YAML document: remove the second `---` and what follows it",
                    ));
                }
                continue;
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| {
                    fail(
                        pos,
                        "this alias refers to an anchor that is not defined before it",
                    )
                })?;
                nodes += node.count();
                if nodes > MAX_NODES {
                    return Err(fail(
                        pos,
                        "aliases expand this file to too many values: a topology holds at most 200000",
                    ));
                }
                (
                    YNode {
                        pos,
                        value: node.value,
                    },
                    0,
                )
            }
            Event::Scalar(text, style, anchor, tag) => {
                let mut plain = style == ScalarStyle::Plain;
                if let Some(tag) = tag {
                    if tag.is_yaml_core_schema() && tag.suffix == "str" {
                        plain = false;
                    } else {
                        return Err(fail(
                            pos,
                            &format!("YAML tags such as `{tag}` are not supported: remove the tag"),
                        ));
                    }
                }
                nodes += 1;
                (
                    YNode {
                        pos,
                        value: YValue::Scalar(Scalar {
                            text: text.into_owned(),
                            plain,
                        }),
                    },
                    anchor,
                )
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                if let Some(tag) = tag {
                    return Err(fail(
                        pos,
                        &format!("YAML tags such as `{tag}` are not supported: remove the tag"),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(
                        pos,
                        "values are nested too deeply: a topology needs at most 64 levels",
                    ));
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(fail(pos, "this file holds too many values: at most 200000"));
                }
                if is_seq {
                    stack.push(Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    });
                } else {
                    stack.push(Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    });
                }
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => (
                    YNode {
                        pos,
                        value: YValue::Seq(items),
                    },
                    anchor,
                ),
                _ => return Err(fail(pos, "the YAML structure is unbalanced here")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    key: None,
                }) => (
                    YNode {
                        pos,
                        value: YValue::Map(merge_keys(entries)),
                    },
                    anchor,
                ),
                _ => return Err(fail(pos, "the YAML structure is unbalanced here")),
            },
        };
        if anchor != 0 {
            anchors.insert(anchor, done.clone());
        }
        match stack.last_mut() {
            None => root = Some(done),
            Some(Frame::Seq { items, .. }) => items.push(done),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some((k, key_pos)) => entries.push(Entry {
                    key: k,
                    key_pos,
                    value: done,
                }),
                None => match done.value {
                    YValue::Scalar(s) => *key = Some((s.text, done.pos)),
                    _ => {
                        return Err(fail(
                            done.pos,
                            "a mapping key must be plain text, not a list or a mapping",
                        ))
                    }
                },
            },
        }
    }
    Ok(root)
}
