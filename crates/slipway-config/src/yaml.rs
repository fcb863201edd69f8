//! A small YAML tree that remembers where every node came from.
//!
//! [`parse_documents`] turns YAML text (one or many `---`-separated documents) into
//! [`Node`]s. Every node, including every mapping *key*, carries its 1-based line and
//! column and its byte range in the source, so that callers can report errors that point
//! at the exact spot a user has to fix. Anchors and aliases are resolved: an alias becomes
//! a copy of the anchored node (the copy's root takes the alias's position).
//!
//! Scalars keep their text and their [`ScalarStyle`]; [`Scalar::value`] types a plain
//! scalar by the YAML 1.2 core schema (`true`/`false`, integers, floats), while quoted and
//! block scalars are always strings. A plain `null`, `Null`, `NULL`, `~` or an empty value
//! becomes [`NodeKind::Null`].
//!
//! The tree does not judge the content: duplicate keys are kept in order (see
//! [`Node::entries`]) so that a caller can report the second occurrence itself.
//!
//! ```
//! use slipway_config::yaml::{parse_documents, NodeKind};
//!
//! let docs = parse_documents("a: 1\nb: [x, y]\n").unwrap();
//! let b = docs[0].get("b").unwrap();
//! assert_eq!((b.line, b.column), (2, 4));
//! assert!(matches!(b.kind, NodeKind::Seq(ref items) if items.len() == 2));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use saphyr_parser::{Event, Parser, Span};

/// Upper bound on the number of nodes a document may expand to through aliases, so that a
/// "billion laughs" file fails quickly instead of exhausting memory.
const MAX_NODES: usize = 1_000_000;

/// One YAML node with its position in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// 1-based line of the node's first character.
    pub line: usize,
    /// 1-based column (in characters) of the node's first character.
    pub column: usize,
    /// Byte range of the node in the source (empty for an empty value).
    pub span: Range<usize>,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or nothing at all.
    Null,
    /// Any other scalar.
    Scalar(Scalar),
    /// A sequence, in order.
    Seq(Vec<Node>),
    /// A mapping as `(key, value)` pairs in source order; duplicates are kept.
    Map(Vec<(Node, Node)>),
}

/// A scalar's text and how it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's content after unescaping and folding.
    pub text: String,
    /// How the scalar was written.
    pub style: ScalarStyle,
    /// An explicit tag such as `tag:yaml.org,2002:str` (`!!str`), if one was written.
    pub tag: Option<String>,
}

/// How a scalar was written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted.
    Plain,
    /// `'single quoted'`.
    SingleQuoted,
    /// `"double quoted"`.
    DoubleQuoted,
    /// A `|` block.
    Literal,
    /// A `>` block.
    Folded,
}

/// A scalar typed by the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarValue<'a> {
    /// A string (any quoted or block scalar, or a plain one that is nothing else).
    Str(&'a str),
    /// `true`/`false` (also `True`, `TRUE`, ...).
    Bool(bool),
    /// A decimal, `0o` octal or `0x` hexadecimal integer that fits in an `i64`.
    Int(i64),
    /// A float, including `.inf`, `-.inf` and `.nan`.
    Float(f64),
}

impl Scalar {
    /// The scalar typed by the YAML 1.2 core schema. Only plain scalars without a tag are
    /// typed; an explicit `!!str` tag or any quoting keeps the text a string.
    pub fn value(&self) -> ScalarValue<'_> {
        if self.style != ScalarStyle::Plain || self.tag.is_some() {
            return ScalarValue::Str(&self.text);
        }
        resolve_plain(&self.text)
    }
}

fn resolve_plain(text: &str) -> ScalarValue<'_> {
    match text {
        "true" | "True" | "TRUE" => return ScalarValue::Bool(true),
        "false" | "False" | "FALSE" => return ScalarValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty()
            && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
            && let Ok(i) = i64::from_str_radix(oct, 8)
        {
            return ScalarValue::Int(i);
        }
        return ScalarValue::Str(text);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(i) = i64::from_str_radix(hex, 16)
        {
            return ScalarValue::Int(i);
        }
        return ScalarValue::Str(text);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return ScalarValue::Int(i);
    }
    if is_core_float(digits)
        && let Ok(f) = text.parse::<f64>()
    {
        return ScalarValue::Float(f);
    }
    ScalarValue::Str(text)
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` (sign already removed).
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => all_digits(int) && all_digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && all_digits(int),
    };
    let exponent_ok = match exponent {
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
        None => true,
    };
    mantissa_ok && exponent_ok
}

impl Node {
    /// The scalar's text if this node is a scalar.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar that the core schema types as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self.as_scalar()?.value() {
            ScalarValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The `(key, value)` pairs of a mapping, in source order, duplicates included.
    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value of the first entry of a mapping whose key is the scalar `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(_, v)| v)
    }

    /// Whether this node is [`NodeKind::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// A short description of the node's type for error messages: `a string`, `a number`,
    /// `a boolean`, `a list`, `a mapping` or `nothing`.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "nothing",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Scalar(s) => match s.value() {
                ScalarValue::Str(_) => "a string",
                ScalarValue::Bool(_) => "a boolean",
                ScalarValue::Int(_) | ScalarValue::Float(_) => "a number",
            },
        }
    }

    fn count(&self) -> usize {
        1 + match &self.kind {
            NodeKind::Null | NodeKind::Scalar(_) => 0,
            NodeKind::Seq(items) => items.iter().map(Node::count).sum(),
            NodeKind::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What went wrong, as the parser puts it.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Byte offset in the source.
    pub offset: usize,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for YamlError {}

/// Parse every document of a YAML stream.
///
/// An empty stream (or one with only comments) gives no documents; a document that is only
/// `---` gives a [`NodeKind::Null`] node.
///
/// # Errors
///
/// Returns the parser's first syntax error, an alias to an unknown anchor, or an input that
/// expands to more than a million nodes through aliases.
pub fn parse_documents(source: &str) -> Result<Vec<Node>, YamlError> {
    Builder::new(source).run()
}

/// Maps the parser's character indices to byte offsets.
struct Offsets {
    /// Byte offset of every character (plus one past the end), or `None` for ASCII input
    /// where the two are equal.
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(source: &str) -> Self {
        let table = (!source.is_ascii()).then(|| {
            source
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(source.len()))
                .collect()
        });
        Offsets {
            table,
            len: source.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder<'s> {
    source: &'s str,
    offsets: Offsets,
    anchors: HashMap<usize, Node>,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    nodes: usize,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str) -> Self {
        Builder {
            source,
            offsets: Offsets::new(source),
            anchors: HashMap::new(),
            stack: Vec::new(),
            docs: Vec::new(),
            nodes: 0,
        }
    }

    fn error_at(&self, span: Span, message: String) -> YamlError {
        YamlError {
            message,
            line: span.start.line(),
            column: span.start.col() + 1,
            offset: self.offsets.byte(span.start.index()),
        }
    }

    fn node(&self, kind: NodeKind, start: Span, end: Span) -> Node {
        Node {
            kind,
            line: start.start.line(),
            column: start.start.col() + 1,
            span: self.offsets.byte(start.start.index())..self.offsets.byte(end.end.index()),
        }
    }

    fn run(mut self) -> Result<Vec<Node>, YamlError> {
        let mut parser = Parser::new_from_str(self.source);
        while let Some(event) = parser.next_event() {
            let (event, span) = event.map_err(|e| {
                let mark = *e.marker();
                YamlError {
                    message: e.info().to_owned(),
                    line: mark.line(),
                    column: mark.col() + 1,
                    offset: self.offsets.byte(mark.index()),
                }
            })?;
            match event {
                Event::StreamStart
                | Event::StreamEnd
                | Event::DocumentStart(_)
                | Event::Nothing => {}
                Event::DocumentEnd => self.anchors.clear(),
                Event::Alias(id) => {
                    let Some(target) = self.anchors.get(&id) else {
                        return Err(self.error_at(span, "alias to an unknown anchor".into()));
                    };
                    self.nodes += target.count();
                    if self.nodes > MAX_NODES {
                        return Err(self.error_at(
                            span,
                            format!("aliases expand to more than {MAX_NODES} nodes"),
                        ));
                    }
                    let mut node = target.clone();
                    node.line = span.start.line();
                    node.column = span.start.col() + 1;
                    node.span =
                        self.offsets.byte(span.start.index())..self.offsets.byte(span.end.index());
                    self.push(node, 0);
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let style = match style {
                        saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
                        saphyr_parser::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                        saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                        saphyr_parser::ScalarStyle::Literal => ScalarStyle::Literal,
                        saphyr_parser::ScalarStyle::Folded => ScalarStyle::Folded,
                    };
                    let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                    let is_null = style == ScalarStyle::Plain
                        && tag.is_none()
                        && matches!(&*text, "" | "~" | "null" | "Null" | "NULL");
                    let kind = if is_null {
                        NodeKind::Null
                    } else {
                        NodeKind::Scalar(Scalar {
                            text: text.into_owned(),
                            style,
                            tag,
                        })
                    };
                    self.nodes += 1;
                    let node = self.node(kind, span, span);
                    self.push(node, anchor);
                }
                Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                    start: span,
                    anchor,
                    items: Vec::new(),
                }),
                Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                    start: span,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                }),
                Event::SequenceEnd | Event::MappingEnd => {
                    let (kind, start, anchor) = match self.stack.pop() {
                        Some(Frame::Seq {
                            start,
                            anchor,
                            items,
                        }) => (NodeKind::Seq(items), start, anchor),
                        Some(Frame::Map {
                            start,
                            anchor,
                            entries,
                            ..
                        }) => (NodeKind::Map(entries), start, anchor),
                        None => continue,
                    };
                    self.nodes += 1;
                    let mut node = self.node(kind, start, span);
                    // A block collection's end event sits where the next token starts;
                    // trim trailing whitespace so that the span covers only the content.
                    let trimmed = self.source[node.span.clone()].trim_end().len();
                    node.span.end = node.span.start + trimmed;
                    self.push(node, anchor);
                }
            }
        }
        Ok(self.docs)
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(source: &str) -> Node {
        let mut docs = parse_documents(source).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    fn pos(node: &Node) -> (usize, usize) {
        (node.line, node.column)
    }

    #[test]
    fn keys_and_values_carry_one_based_positions() {
        let root = one("app: demo\nimages:\n  api:\n    context: .\n");
        let entries = root.entries().unwrap();
        assert_eq!(pos(&entries[0].0), (1, 1));
        assert_eq!(pos(&entries[0].1), (1, 6));
        assert_eq!(pos(&entries[1].0), (2, 1));
        let api = &entries[1].1.entries().unwrap()[0];
        assert_eq!(pos(&api.0), (3, 3));
        let context = &api.1.entries().unwrap()[0];
        assert_eq!(pos(&context.0), (4, 5));
        assert_eq!(pos(&context.1), (4, 14));
    }

    #[test]
    fn spans_are_byte_ranges_even_after_multibyte_text() {
        let source = "name: \"héllo\"\nnext: wörld\n";
        let root = one(source);
        let next = root.get("next").unwrap();
        assert_eq!(&source[next.span.clone()], "wörld");
        assert_eq!(pos(next), (2, 7));
        let name = root.get("name").unwrap();
        assert_eq!(&source[name.span.clone()], "\"héllo\"");
    }

    #[test]
    fn block_collections_span_only_their_content() {
        let source = "a:\n  b: 1\n  c: 2\n\nd: 3\n";
        let a = one(source).get("a").cloned().unwrap();
        assert_eq!(&source[a.span.clone()], "b: 1\n  c: 2");
    }

    #[test]
    fn flow_collections_have_positions() {
        let root = one("list: [a, {b: c}]\n");
        let list = root.get("list").unwrap();
        assert_eq!(pos(list), (1, 7));
        let items = list.items().unwrap();
        assert_eq!(pos(&items[1]), (1, 11));
        assert_eq!(pos(items[1].get("b").unwrap()), (1, 15));
    }

    #[test]
    fn aliases_copy_the_anchored_node_at_the_alias_position() {
        let root = one("base: &b\n  x: 1\nother: *b\n");
        let other = root.get("other").unwrap();
        assert_eq!(pos(other), (3, 8));
        assert_eq!(other.get("x").unwrap().as_scalar().unwrap().text, "1");
        let scalar = one("a: &v hello\nb: *v\n");
        assert_eq!(scalar.get("b").unwrap().as_str(), Some("hello"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut source = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            source.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse_documents(&source).unwrap_err();
        assert!(err.message.contains("more than"), "{err}");
    }

    #[test]
    fn multiple_documents_are_returned_in_order() {
        let docs = parse_documents("a: 1\n---\nb: 2\n---\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[0].get("a").is_some());
        assert_eq!(pos(docs[1].get("b").unwrap()), (3, 4));
        assert!(docs[2].is_null());
    }

    #[test]
    fn empty_input_has_no_documents() {
        assert!(parse_documents("").unwrap().is_empty());
        assert!(parse_documents("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn plain_scalars_are_typed_by_the_core_schema() {
        let root = one(
            "a: true\nb: False\nc: 42\nd: -0x1\ne: 0o17\nf: 1.5e3\ng: .inf\nh: 1.2.3\ni: 0x1F\nj: yes\n",
        );
        let v = |k: &str| root.get(k).unwrap().as_scalar().unwrap().value();
        assert_eq!(v("a"), ScalarValue::Bool(true));
        assert_eq!(v("b"), ScalarValue::Bool(false));
        assert_eq!(v("c"), ScalarValue::Int(42));
        assert_eq!(v("d"), ScalarValue::Str("-0x1"));
        assert_eq!(v("e"), ScalarValue::Int(15));
        assert_eq!(v("f"), ScalarValue::Float(1500.0));
        assert_eq!(v("g"), ScalarValue::Float(f64::INFINITY));
        assert_eq!(v("h"), ScalarValue::Str("1.2.3"));
        assert_eq!(v("i"), ScalarValue::Int(31));
        assert_eq!(v("j"), ScalarValue::Str("yes"));
    }

    #[test]
    fn quoted_and_tagged_scalars_are_strings() {
        let root = one("a: \"true\"\nb: '42'\nc: !!str 7\nd: |\n  1\n");
        for key in ["a", "b", "c"] {
            assert!(root.get(key).unwrap().as_str().is_some(), "{key}");
        }
        assert_eq!(root.get("d").unwrap().as_str(), Some("1\n"));
    }

    #[test]
    fn null_forms_become_null_nodes() {
        let root = one("a:\nb: ~\nc: null\nd: ''\n");
        assert!(root.get("a").unwrap().is_null());
        assert!(root.get("b").unwrap().is_null());
        assert!(root.get("c").unwrap().is_null());
        assert_eq!(root.get("d").unwrap().as_str(), Some(""));
    }

    #[test]
    fn duplicate_keys_are_kept_in_order() {
        let root = one("a: 1\na: 2\n");
        let entries = root.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(pos(&entries[1].0), (2, 1));
    }

    #[test]
    fn syntax_errors_carry_the_parser_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1 && err.column >= 1);
        let err = parse_documents("a: b: c\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 5));
        assert_eq!(
            err.message,
            "mapping values are not allowed in this context"
        );
    }

    #[test]
    fn describe_names_the_type_for_messages() {
        let root = one("a: x\nb: 1\nc: true\nd: []\ne: {}\nf:\n");
        let d = |k: &str| root.get(k).unwrap().describe();
        assert_eq!(
            [d("a"), d("b"), d("c"), d("d"), d("e"), d("f")],
            [
                "a string",
                "a number",
                "a boolean",
                "a list",
                "a mapping",
                "nothing"
            ]
        );
    }
}
