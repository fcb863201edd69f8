//! A deterministic YAML emitter for JSON-like values, printing what `kubectl kustomize`
//! prints.
//!
//! Why hand-written: the maintained serde YAML emitters either are archived
//! (`serde_yaml`), pull in a second YAML model with its own quoting rules, or cannot be
//! told to print the way `kubectl` does. Rendered manifests are compared byte for byte
//! across runs and against `kubectl kustomize`, so the output format is part of the
//! interface and is kept here.
//!
//! kustomize turns every object into JSON and the JSON into YAML with the Go YAML library
//! (version 2) that `sigs.k8s.io/yaml` embeds, so this module follows that library's
//! rules:
//!
//! - mapping keys in its "natural" order: runs of digits compare as numbers, and at the
//!   first difference a non-letter sorts before a letter;
//! - block style, two-space indentation, sequences under a key not indented; empty
//!   collections as `{}` and `[]`;
//! - a string that a YAML 1.1 reader would take for something else (`"true"`, `"yes"`,
//!   `"1"`, `"0x1F"`, `"1.5"`, `"2001-12-14"`, `"12:30"`, `""`) is double-quoted; a
//!   version such as `8.6.2` or `1.x` is not;
//! - a string that cannot be plain (a leading indicator such as `*&!|>%@`, `: ` or ` #`
//!   inside, leading or trailing spaces) is single-quoted, and one that cannot be
//!   single-quoted either (control characters, a space before a line break) is
//!   double-quoted with escapes;
//! - strings with line breaks become `|` blocks (`|-` without a final break, `|+` with
//!   several, `|2` when the first line starts with a space);
//! - plain and quoted strings are folded at the first space past column 80, as that
//!   library does (never inside keys or block scalars);
//! - floats as Go's `strconv.FormatFloat(f, 'g', -1, 64)`, integral ones as integers.

use serde_json::Value;

use crate::Object;

/// Column after which the Go library folds long strings at the next space.
const BEST_WIDTH: usize = 80;

/// Longest key (in bytes) the Go library writes as `key: value`.
const MAX_SIMPLE_KEY: usize = 128;

/// Print objects as a YAML stream: documents separated by `---\n`, as
/// `kubectl kustomize` prints them.
pub fn to_yaml(objects: &[Object]) -> String {
    let mut e = Emitter::with_capacity(objects.len() * 512);
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            e.put_str("---\n");
        }
        e.document(&o.value);
    }
    e.out
}

/// Print one value as a YAML document (no `---` marker).
pub fn value_to_yaml(value: &Value) -> String {
    let mut e = Emitter::with_capacity(256);
    e.document(value);
    e.out
}

/// The output and the column the next character goes to.
struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn with_capacity(n: usize) -> Emitter {
        Emitter {
            out: String::with_capacity(n),
            column: 0,
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        if c == '\n' {
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// Structural text (indicators, indentation, newlines).
    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn newline(&mut self) {
        self.put('\n');
    }

    fn indent_to(&mut self, n: usize) {
        while self.column < n {
            self.put(' ');
        }
    }

    /// Go's `yaml_emitter_write_indent` inside a scalar: a line break, then `indent`
    /// spaces.
    fn break_line(&mut self, indent: usize) {
        self.newline();
        self.indent_to(indent);
    }

    fn end_line(&mut self) {
        if self.column != 0 {
            self.newline();
        }
    }

    fn document(&mut self, value: &Value) {
        match value {
            Value::Object(m) if !m.is_empty() => self.map(value, 0),
            Value::Array(a) if !a.is_empty() => self.seq(value, 0),
            other => {
                self.scalar_value(other, 0);
                self.end_line();
            }
        }
    }

    /// A mapping whose keys go at column `ind`; the cursor is at `ind` for the first key.
    fn map(&mut self, value: &Value, ind: usize) {
        let Value::Object(m) = value else { return };
        for (i, (k, v)) in sorted_entries(m).into_iter().enumerate() {
            if i > 0 {
                self.indent_to(ind);
            }
            if k.len() > MAX_SIMPLE_KEY || k.contains(is_break) {
                // The Go library writes such a key as a complex key: `? key`, then `: `.
                self.put_str("? ");
                self.string(k, ind + 2, Context::Value);
                self.end_line();
                self.indent_to(ind);
            } else {
                self.string(k, ind + 2, Context::Key);
            }
            self.put(':');
            match v {
                Value::Object(c) if !c.is_empty() => {
                    self.newline();
                    self.indent_to(ind + 2);
                    self.map(v, ind + 2);
                }
                Value::Array(c) if !c.is_empty() => {
                    self.newline();
                    self.indent_to(ind);
                    self.seq(v, ind);
                }
                other => {
                    self.put(' ');
                    self.scalar_value(other, ind + 2);
                    self.end_line();
                }
            }
        }
    }

    /// A sequence whose dashes go at column `ind`; the cursor is at `ind`.
    fn seq(&mut self, value: &Value, ind: usize) {
        let Value::Array(a) = value else { return };
        for (i, item) in a.iter().enumerate() {
            if i > 0 {
                self.indent_to(ind);
            }
            self.put_str("- ");
            match item {
                Value::Object(m) if !m.is_empty() => self.map(item, ind + 2),
                Value::Array(x) if !x.is_empty() => self.seq(item, ind + 2),
                other => {
                    self.scalar_value(other, ind + 2);
                    self.end_line();
                }
            }
        }
    }

    /// A scalar or an empty collection; `indent` is where folded lines and block scalar
    /// content go.
    fn scalar_value(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Null => self.put_str("null"),
            Value::Bool(b) => self.put_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = match n.as_f64().filter(|_| n.is_f64()) {
                    Some(f) => format_float(f),
                    None => n.to_string(),
                };
                self.put_str(&text);
            }
            Value::String(s) => self.string(s, indent, Context::Value),
            Value::Array(_) => self.put_str("[]"),
            Value::Object(_) => self.put_str("{}"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, context: Context) {
        let folding = context == Context::Value;
        match style(s, context) {
            Style::Plain => self.plain(s, indent, folding),
            Style::Single => self.single_quoted(s, indent, folding),
            Style::Double => self.double_quoted(s, indent, folding),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, folding: bool) {
        let mut spaces = false;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                if folding && !spaces && self.column > BEST_WIDTH && chars.peek() != Some(&' ') {
                    self.break_line(indent);
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, folding: bool) {
        self.put('\'');
        let mut spaces = false;
        let mut breaks = false;
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            if c == ' ' {
                if folding
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && next.is_some()
                    && next != Some(' ')
                {
                    self.break_line(indent);
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.newline();
                }
                self.put_raw_break(c);
                breaks = true;
            } else {
                if breaks {
                    // After a break the cursor is at column 0.
                    self.indent_to(indent);
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                spaces = false;
                breaks = false;
            }
        }
        self.put('\'');
    }

    fn put_raw_break(&mut self, c: char) {
        self.out.push(c);
        self.column = 0;
    }

    fn double_quoted(&mut self, s: &str, indent: usize, folding: bool) {
        self.put('"');
        let mut spaces = false;
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            if !printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.escape(c);
                spaces = false;
            } else if c == ' ' {
                if folding && !spaces && self.column > BEST_WIDTH && i > 0 && next.is_some() {
                    self.break_line(indent);
                    if next == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.put('"');
    }

    fn escape(&mut self, c: char) {
        self.put('\\');
        let short = match c {
            '\0' => Some('0'),
            '\u{7}' => Some('a'),
            '\u{8}' => Some('b'),
            '\t' => Some('t'),
            '\n' => Some('n'),
            '\u{b}' => Some('v'),
            '\u{c}' => Some('f'),
            '\r' => Some('r'),
            '\u{1b}' => Some('e'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            '\u{85}' => Some('N'),
            '\u{a0}' => Some('_'),
            '\u{2028}' => Some('L'),
            '\u{2029}' => Some('P'),
            _ => None,
        };
        if let Some(s) = short {
            self.put(s);
            return;
        }
        let v = c as u32;
        let text = if v <= 0xff {
            format!("x{v:02X}")
        } else if v <= 0xffff {
            format!("u{v:04X}")
        } else {
            format!("U{v:08X}")
        };
        self.put_str(&text);
    }

    /// A `|` block; content at `indent`.
    fn literal(&mut self, s: &str, indent: usize) {
        self.put('|');
        if s.starts_with(' ') || s.starts_with(is_break) {
            self.put('2');
        }
        let mut rev = s.chars().rev();
        let last = rev.next();
        let before_last = rev.next();
        match (last, before_last) {
            (Some(l), _) if !is_break(l) => self.put('-'),
            (Some(_), None) => self.put('+'),
            (Some(_), Some(b)) if is_break(b) => self.put('+'),
            _ => {}
        }
        self.newline();
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.put_raw_break(c);
                breaks = true;
            } else {
                if breaks {
                    self.indent_to(indent);
                }
                self.put(c);
                breaks = false;
            }
        }
    }
}

/// Where a string is written: keys are never folded and never block scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Key,
    Value,
}

#[derive(Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The mapping's entries in the Go library's key order.
fn sorted_entries(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    // serde_json keeps keys in byte order, which is nearly always the same order.
    if entries.windows(2).any(|w| key_less(w[1].0, w[0].0)) {
        sort_keys(&mut entries);
    }
    entries
}

/// Sort by the Go library's key order. That order is not always a total order (mixing
/// digit runs, leading zeros and punctuation can make it cycle), which the standard
/// library's sorts may panic on, so this is an insertion sort up to 12 keys and a merge
/// sort beyond, both of which accept any answer. For such keys kubectl's own order is not
/// stable either: Go starts from its randomised map order, so the same input prints in
/// different orders from one run to the next; for every other key all sorts agree.
fn sort_keys(entries: &mut [(&String, &Value)]) {
    if entries.len() <= 12 {
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && key_less(entries[j].0, entries[j - 1].0) {
                entries.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    let mid = entries.len() / 2;
    sort_keys(&mut entries[..mid]);
    sort_keys(&mut entries[mid..]);
    let mut merged = Vec::with_capacity(entries.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < entries.len() {
        if key_less(entries[j].0, entries[i].0) {
            merged.push(entries[j]);
            j += 1;
        } else {
            merged.push(entries[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&entries[i..mid]);
    merged.extend_from_slice(&entries[j..]);
    entries.copy_from_slice(&merged);
}

/// The Go YAML library's order of string keys (`keyList.Less` of its version 2).
fn key_less(a: &str, b: &str) -> bool {
    // Keys are nearly always ASCII: compare bytes then, without collecting characters.
    if a.is_ascii() && b.is_ascii() {
        natural_less(a.as_bytes(), b.as_bytes())
    } else {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        natural_less(&ar, &br)
    }
}

/// A character of a key, as the ordering sees it.
trait KeyChar: Copy + Ord {
    fn is_letter(self) -> bool;
    /// The value of an ASCII digit.
    fn digit(self) -> Option<u8>;
}

impl KeyChar for u8 {
    fn is_letter(self) -> bool {
        self.is_ascii_alphabetic()
    }
    fn digit(self) -> Option<u8> {
        self.is_ascii_digit().then(|| self - b'0')
    }
}

impl KeyChar for char {
    fn is_letter(self) -> bool {
        self.is_alphabetic()
    }
    fn digit(self) -> Option<u8> {
        self.is_ascii_digit().then(|| self as u8 - b'0')
    }
}

fn natural_less<T: KeyChar>(ar: &[T], br: &[T]) -> bool {
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_letter();
        let bl = br[i].is_letter();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        let zero = |c: T| c.digit() == Some(0);
        if zero(ar[i]) || zero(br[i]) {
            let nonzero_before = ar[..i]
                .iter()
                .rev()
                .map_while(|c| c.digit())
                .any(|d| d != 0);
            if nonzero_before {
                an = 1;
                bn = 1;
            }
        }
        let mut ai = i;
        while let Some(d) = ar.get(ai).and_then(|c| c.digit()) {
            an = an.wrapping_mul(10).wrapping_add(i64::from(d));
            ai += 1;
        }
        let mut bi = i;
        while let Some(d) = br.get(bi).and_then(|c| c.digit()) {
            bn = bn.wrapping_mul(10).wrapping_add(i64::from(d));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Floats as Go's `strconv.FormatFloat(f, 'g', -1, 64)`; integral values (which reach
/// the Go library as JSON integers) as integers.
fn format_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            ".nan".into()
        } else if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    // Shortest digits in exponent form: `d.ddde±x`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is a number");
    if !(-4..21).contains(&exp) || (exp >= 6 && f.fract() != 0.0) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Characters the Go library writes unescaped (YAML's printable set, without U+FEFF and
/// without characters outside the Basic Multilingual Plane).
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c),
    }
}

/// What the Go library's scalar analysis allows for a string.
struct Allowed {
    multiline: bool,
    plain: bool,
    single: bool,
    block: bool,
}

/// The Go library's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(s: &str) -> Allowed {
    let mut indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let (mut line_breaks, mut special) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut chars = s.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let followed_by_whitespace = is_blank_or_break(next);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => indicators = true,
                '#' if preceded_by_whitespace => indicators = true,
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        let last = next.is_none();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_break(Some(c));
    }
    let mut a = Allowed {
        multiline: line_breaks,
        plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.plain = false;
        a.single = false;
    }
    if space_break || special {
        a.plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks || indicators {
        a.plain = false;
    }
    a
}

/// The style the Go library picks for a string: its encoder asks for a `|` block when
/// there is a `\n`, double quotes when the text would be read back as another type, plain
/// otherwise; its emitter then falls back to single and double quotes as the text demands.
fn style(s: &str, context: Context) -> Style {
    let a = analyze(s);
    if s.contains('\n') {
        return if context == Context::Key || !a.block {
            Style::Double
        } else {
            Style::Literal
        };
    }
    if context == Context::Key && a.multiline {
        return Style::Double;
    }
    if resolves_to_non_string(s) || is_base60_float(s) {
        return Style::Double;
    }
    if a.plain {
        Style::Plain
    } else if a.single {
        Style::Single
    } else {
        Style::Double
    }
}

/// Whether the Go library's YAML 1.1 resolver reads this plain text as something else than
/// a string (null, a boolean, a number or a timestamp).
pub(crate) fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    let Some(first) = s.bytes().next() else {
        return true;
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            WORDS.contains(&s)
        }
        b'.' => WORDS.contains(&s) || is_dot_float(s),
        b'+' | b'-' | b'0'..=b'9' => {
            if WORDS.contains(&s) || is_timestamp(s) {
                return true;
            }
            let plain = s.replace('_', "");
            is_go_int(&plain) || is_yaml_float(&plain)
        }
        _ => false,
    }
}

/// `\.[0-9]+([eE][-+]?[0-9]+)?`: what Go's `ParseFloat` accepts after a leading dot.
fn is_dot_float(s: &str) -> bool {
    s.strip_prefix('.').is_some_and(|rest| {
        let (digits, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        all_digits(digits) && exp.is_none_or(is_exponent)
    })
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_exponent(e: &str) -> bool {
    all_digits(e.strip_prefix(['-', '+']).unwrap_or(e))
}

/// An integer as Go's `strconv.ParseInt(s, 0, 64)` reads one (any size).
pub(crate) fn is_go_int(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let b = body.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        let (digits, radix) = match b[1] {
            b'x' | b'X' => (&body[2..], 16),
            b'o' | b'O' => (&body[2..], 8),
            b'b' | b'B' => (&body[2..], 2),
            _ => (&body[1..], 8),
        };
        return !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    }
    all_digits(body)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
pub(crate) fn is_yaml_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => all_digits(frac),
        Some((int, frac)) => all_digits(int) && frac.bytes().all(|b| b.is_ascii_digit()),
        None => all_digits(mantissa),
    };
    mantissa_ok && exp.is_none_or(is_exponent)
}

/// `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?`: YAML 1.1 sexagesimal numbers, which
/// the Go library still quotes.
fn is_base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !body.starts_with(|c: char| c.is_ascii_digit()) || !body.contains(':') {
        return false;
    }
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit() || b == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    if !head.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return false;
    }
    let mut any = false;
    for p in parts {
        any = true;
        let ok = match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, d] => (b'0'..=b'5').contains(a) && d.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    any
}

/// The timestamps the Go library recognises: `YYYY-M-D`, optionally followed by
/// `Thh:mm:ss[.frac](Z|±hh:mm)` (or lower-case `t`) or ` hh:mm:ss[.frac]`.
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let year: u32 = s[..4].parse().unwrap_or(0);
    let mut p = Cursor { b, i: 5 };
    let Some(month) = p.number(2) else {
        return false;
    };
    if !p.eat(b'-') {
        return false;
    }
    let Some(day) = p.number(2) else { return false };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days {
        return false;
    }
    if p.done() {
        return true;
    }
    let zone = match b[p.i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    p.i += 1;
    let time_ok = p.number(2).is_some_and(|h| h < 24)
        && p.eat(b':')
        && p.number(2).is_some_and(|m| m < 60)
        && p.eat(b':')
        && p.number(2).is_some_and(|s| s < 60);
    if !time_ok {
        return false;
    }
    if p.i + 1 < b.len() && matches!(b[p.i], b'.' | b',') && b[p.i + 1].is_ascii_digit() {
        p.i += 1;
        while p.i < b.len() && b[p.i].is_ascii_digit() {
            p.i += 1;
        }
    }
    if !zone {
        return p.done();
    }
    if p.eat(b'Z') {
        return p.done();
    }
    if !(p.eat(b'+') || p.eat(b'-')) {
        return false;
    }
    let rest = &b[p.i..];
    rest.len() == 5
        && rest[0].is_ascii_digit()
        && rest[1].is_ascii_digit()
        && rest[2] == b':'
        && rest[3].is_ascii_digit()
        && rest[4].is_ascii_digit()
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// One or up to `max` digits.
    fn number(&mut self, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reparse(text: &str) -> Value {
        let docs = slipway_config::yaml::parse_documents(text).unwrap();
        assert_eq!(docs.len(), 1, "{text}");
        crate::read::node_to_value(&docs[0], std::path::Path::new("t")).unwrap()
    }

    const TRICKY: &[&str] = &[
        "true",
        "false",
        "True",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "1",
        "-1",
        "+1",
        "0x1F",
        "0o17",
        "017",
        "1.5",
        ".5",
        "1e3",
        "1_000",
        "null",
        "Null",
        "~",
        "",
        " ",
        "  lead",
        "trail ",
        "*star",
        "&amp",
        "!bang",
        "|pipe",
        ">gt",
        "%pct",
        "@at",
        "`tick",
        "'sq",
        "\"dq",
        "#hash",
        "a #b",
        "a#b",
        "a: b",
        "a:b",
        "key:",
        "- x",
        "-x",
        "-",
        "?",
        "? x",
        ":",
        ": x",
        "[x]",
        "{x}",
        ",x",
        "x,y",
        "---",
        "...",
        "--- x",
        "multi\nline\n",
        "multi\nline",
        "multi\nline\n\n",
        " lead\nline\n",
        "\nfirst empty",
        "tab\there",
        "cr\rhere",
        "bell\u{7}",
        "trailing space \nline",
        "unicode ünïcödé ✓",
        "emoji 😀",
        "2001-12-14",
        "12:30",
        "1:2:3",
        ".inf",
        "-.inf",
        ".nan",
        "<<",
        "=",
        "a'b",
        "a\"b",
        "back\\slash",
        "é",
        "\u{a0}nbsp",
        "line\n  indented\n",
        "end\n ",
        "k8s.io/name",
        "http://x.y/z?a=b#c",
        "$(VAR)",
        "${VAR}",
        "{{ tmpl }}",
        "NaN",
        "inf",
    ];

    #[test]
    fn tricky_strings_parse_back_to_the_same_value() {
        for s in TRICKY {
            let v = json!({ "k": s, "list": [s, {"n": s}], *s: "key" });
            let text = value_to_yaml(&v);
            assert_eq!(reparse(&text), v, "{s:?} printed as:\n{text}");
        }
    }

    #[test]
    fn strings_a_reader_would_retype_are_double_quoted() {
        let text = value_to_yaml(&json!({"a": "true", "b": "1", "c": "null", "d": "~", "e": ""}));
        assert_eq!(
            text,
            "a: \"true\"\nb: \"1\"\nc: \"null\"\nd: \"~\"\ne: \"\"\n"
        );
    }

    #[test]
    fn strings_with_indicators_are_single_quoted() {
        let text = value_to_yaml(&json!(["a: b", "- x", " sp", "*x", "a #b", "it's"]));
        assert_eq!(
            text,
            "- 'a: b'\n- '- x'\n- ' sp'\n- '*x'\n- 'a #b'\n- it's\n"
        );
    }

    #[test]
    fn sequences_under_a_key_are_not_indented_and_maps_nest_by_two() {
        let v =
            json!({"spec": {"containers": [{"name": "a", "args": ["x", "y"]}], "e": {}, "l": []}});
        assert_eq!(
            value_to_yaml(&v),
            "spec:\n  containers:\n  - args:\n    - x\n    - \"y\"\n    name: a\n  e: {}\n  l: []\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let v = json!({"a": {"b": "one\ntwo\n"}, "c": ["x\ny"]});
        assert_eq!(
            value_to_yaml(&v),
            "a:\n  b: |\n    one\n    two\nc:\n- |-\n  x\n  y\n"
        );
    }

    #[test]
    fn numbers_and_null_are_plain() {
        let v = json!({"i": 3, "f": 1.5, "g": 2.0, "z": null, "t": true});
        assert_eq!(value_to_yaml(&v), "f: 1.5\ng: 2\ni: 3\nt: true\nz: null\n");
    }

    #[test]
    fn nested_sequences_use_compact_dashes() {
        let v = json!({"a": [["x", "z"], []]});
        let text = value_to_yaml(&v);
        assert_eq!(text, "a:\n- - x\n  - z\n- []\n");
        assert_eq!(reparse(&text), v);
    }
    // The cases below are taken from `kubectl kustomize` output in the real-world corpus.

    #[test]
    fn versions_and_addresses_stay_plain_while_yaml_1_1_numbers_are_quoted() {
        let v = json!({"a": "8.6.2", "b": "1.x", "c": "169.254.169.254", "d": "1.29.1",
            "e": "1.5", "f": "0755", "g": "12:30", "h": "yes", "i": "2001-12-14", "j": "1e3",
            "k": "0x1F", "l": "127.0.0.1:5000", "m": "2001-12-14T21:59:43Z", "z": "<<"});
        assert_eq!(
            value_to_yaml(&v),
            "a: 8.6.2\nb: 1.x\nc: 169.254.169.254\nd: 1.29.1\ne: \"1.5\"\nf: \"0755\"\ng: \"12:30\"\nh: \"yes\"\ni: \"2001-12-14\"\nj: \"1e3\"\nk: \"0x1F\"\nl: 127.0.0.1:5000\nm: \"2001-12-14T21:59:43Z\"\nz: <<\n"
        );
    }

    #[test]
    fn long_plain_strings_fold_at_the_first_space_past_column_80() {
        let d =
            "Condition contains details for one aspect of the current state of this API Resource.";
        let v = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"description": d}}}}}}}}}});
        let text = value_to_yaml(&v);
        let indent = " ".repeat(18);
        assert!(
            text.ends_with(&format!(
                "{indent}description: Condition contains details for one aspect of the current\n{indent}  state of this API Resource.\n"
            )),
            "{text}"
        );
        assert_eq!(reparse(&text), v);
        // Keys are never folded, and a string without spaces is never cut.
        let long = "x".repeat(120);
        let text = value_to_yaml(&json!({ "k": long }));
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn long_single_quoted_strings_fold_too() {
        let s = "| enabled=true site_key=/var/run/secrets/recaptcha/site_key.txt secret_key=/var/run/secrets/recaptcha/secret_key.txt";
        assert_eq!(
            value_to_yaml(&json!({"data": {"recaptcha.conf": s}})),
            "data:\n  recaptcha.conf: '| enabled=true site_key=/var/run/secrets/recaptcha/site_key.txt\n    secret_key=/var/run/secrets/recaptcha/secret_key.txt'\n"
        );
    }

    #[test]
    fn a_space_before_a_line_break_forces_folded_double_quotes() {
        let s = "receivers:\n  otlp:\n    protocols: \n      grpc:\nprocessors:\n";
        let text = value_to_yaml(&json!({ "t.yaml": s }));
        assert_eq!(
            text,
            "t.yaml: \"receivers:\\n  otlp:\\n    protocols: \\n      grpc:\\nprocessors:\\n\"\n"
        );
        assert_eq!(reparse(&text), json!({ "t.yaml": s }));
        let long = format!("{}  two spaces after the fold point", "word ".repeat(16));
        let text = value_to_yaml(&json!({ "k": format!("{long}\n ") }));
        assert!(text.contains("\n  \\ "), "{text}");
        assert_eq!(reparse(&text), json!({ "k": format!("{long}\n ") }));
    }

    #[test]
    fn block_scalars_get_indentation_and_chomping_indicators() {
        let v = json!({"a": "x\ny", "b": "x\n\n", "c": " lead\nx\n", "d": "\n"});
        assert_eq!(
            value_to_yaml(&v),
            "a: |-\n  x\n  y\nb: |+\n  x\n\nc: |2\n   lead\n  x\nd: |2+\n\n"
        );
    }

    #[test]
    fn keys_sort_in_the_go_library_natural_order() {
        let v = json!({"a10": 1, "a9": 2, "a_b": 3, "aB": 4, "a-b": 5, "ab": 6, "b": 7});
        let keys: Vec<String> = value_to_yaml(&v)
            .lines()
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["a-b", "a_b", "a9", "a10", "aB", "ab", "b"]);
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(2.0), "2");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(1234567.5), "1.2345675e+06");
        assert_eq!(format_float(0.0001), "0.0001");
    }

    #[test]
    fn control_characters_and_astral_characters_are_escaped() {
        assert_eq!(
            value_to_yaml(&json!({"k": "tab\there \u{1F600}"})),
            "k: \"tab\\there \\U0001F600\"\n"
        );
    }

    #[test]
    fn keys_longer_than_128_bytes_are_complex_keys() {
        let long = "k".repeat(130);
        let v = json!({"data": {long.clone(): "v", "short": "x"}});
        let text = value_to_yaml(&v);
        assert_eq!(text, format!("data:\n  ? {long}\n  : v\n  short: x\n"));
        assert_eq!(reparse(&text), v);
    }

    #[test]
    fn keys_the_go_order_cannot_rank_consistently_still_print() {
        // Leading zeros and punctuation make the Go order cycle here; the emitter must
        // print every key once and not panic.
        let keys = [
            "0.",
            "0_1",
            "00",
            "1e",
            "1e3",
            "1.5",
            "1:2:3",
            "1__0",
            "1_000",
            "08",
            "10:00:00",
            "12:30",
            "017",
            "190:20:30.15",
            "123456789012345678901234567890",
            "1",
            "1,000",
            "1.2.3",
            "0b101",
            "0o17",
            "0x",
            "0x1F",
        ];
        let v = Value::Object(keys.iter().map(|k| (k.to_string(), json!(1))).collect());
        let text = value_to_yaml(&v);
        assert_eq!(text.lines().count(), keys.len());
        assert_eq!(reparse(&text), v);
    }
}
