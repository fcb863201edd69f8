//! The lexer: template source to tokens, as Go's `text/template/parse` splits it.
//!
//! Text outside actions becomes [`Tok::Text`], with the whitespace next to a trim
//! marker (`{{- ` and ` -}}`) already removed. Comments produce no token.

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    Ident(String),
    /// `.name` (the name without its dot).
    Field(String),
    /// `$name`, or `$` alone.
    Variable(String),
    /// A quoted or raw string: its value and its source text.
    Str(String, String),
    /// A character constant: its value and its source text.
    Char(char, String),
    Number(String),
    Bool(bool),
    Nil,
    Dot,
    Pipe,
    LeftParen,
    RightParen,
    Assign,
    Declare,
    Comma,
    Keyword(Keyword),
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

impl Keyword {
    fn from_word(w: &str) -> Option<Keyword> {
        Some(match w {
            "block" => Keyword::Block,
            "break" => Keyword::Break,
            "continue" => Keyword::Continue,
            "define" => Keyword::Define,
            "else" => Keyword::Else,
            "end" => Keyword::End,
            "if" => Keyword::If,
            "range" => Keyword::Range,
            "template" => Keyword::Template,
            "with" => Keyword::With,
            _ => return None,
        })
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Keyword::Block => "block",
            Keyword::Break => "break",
            Keyword::Continue => "continue",
            Keyword::Define => "define",
            Keyword::Else => "else",
            Keyword::End => "end",
            Keyword::If => "if",
            Keyword::Range => "range",
            Keyword::Template => "template",
            Keyword::With => "with",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offset in the source.
    pub pos: usize,
    /// 1-based line.
    pub line: usize,
}

/// A lexing error: the line it was found on and Go's message.
#[derive(Debug)]
pub(crate) struct LexError {
    pub line: usize,
    pub message: String,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: usize,
    /// The last position whose line was computed, and that line.
    line_cache: std::cell::Cell<(usize, usize)>,
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut l = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
        paren_depth: 0,
        line_cache: std::cell::Cell::new((0, 1)),
    };
    l.run()?;
    Ok(l.tokens)
}

impl Lexer<'_> {
    fn line_at(&self, pos: usize) -> usize {
        let pos = pos.min(self.src.len());
        let (cpos, cline) = self.line_cache.get();
        let (from, base) = if pos >= cpos { (cpos, cline) } else { (0, 1) };
        let line = base
            + self.src.as_bytes()[from..pos]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        self.line_cache.set((pos, line));
        line
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        let line = self.line_at(pos);
        self.tokens.push(Token { tok, pos, line });
    }

    fn err(&self, pos: usize, message: impl Into<String>) -> LexError {
        LexError {
            line: self.line_at(pos),
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn run(&mut self) -> Result<(), LexError> {
        let mut trim_next_text = false;
        loop {
            let start = self.pos;
            let Some(off) = self.rest().find(LEFT) else {
                let mut text = &self.src[start..];
                if trim_next_text {
                    text = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
                }
                if !text.is_empty() {
                    let at = self.src.len() - text.len();
                    self.emit(Tok::Text(text.to_string()), at);
                }
                self.emit(Tok::Eof, self.src.len());
                return Ok(());
            };
            let delim = start + off;
            let after = &self.src[delim + LEFT.len()..];
            let trim_left =
                after.len() >= 2 && after.as_bytes()[0] == b'-' && is_space(after.as_bytes()[1]);
            let mut text = &self.src[start..delim];
            let mut text_pos = start;
            if trim_next_text {
                let t = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
                text_pos += text.len() - t.len();
                text = t;
            }
            if trim_left {
                text = text.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
            }
            if !text.is_empty() {
                self.emit(Tok::Text(text.to_string()), text_pos);
            }
            self.pos = delim + LEFT.len();
            if trim_left {
                self.pos += 2;
            }
            // A comment is the whole action.
            let body = self
                .rest()
                .trim_start_matches(|c: char| trim_left && c.is_ascii() && is_space(c as u8));
            if body.starts_with("/*") {
                let cstart = self.src.len() - body.len();
                let Some(end) = body.find("*/") else {
                    return Err(self.err(delim, "unclosed comment"));
                };
                self.pos = cstart + end + 2;
                let rest = self.rest();
                if let Some(r) = rest.strip_prefix(RIGHT) {
                    let _ = r;
                    self.pos += RIGHT.len();
                    trim_next_text = false;
                } else if rest.len() >= 4
                    && is_space(rest.as_bytes()[0])
                    && rest[1..].starts_with("-}}")
                {
                    self.pos += 4;
                    trim_next_text = true;
                } else {
                    return Err(self.err(delim, "comment ends before closing delimiter"));
                }
                continue;
            }
            self.emit(Tok::LeftDelim, delim);
            trim_next_text = self.inside_action(delim)?;
        }
    }

    /// Lexes one action up to and including its right delimiter; returns whether it
    /// ended with a trim marker.
    fn inside_action(&mut self, action_start: usize) -> Result<bool, LexError> {
        self.paren_depth = 0;
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Err(self.err(action_start, "unclosed action"));
            }
            if rest.starts_with(RIGHT) {
                if self.paren_depth > 0 {
                    return Err(self.err(self.pos, "unclosed left paren"));
                }
                self.emit(Tok::RightDelim, self.pos);
                self.pos += RIGHT.len();
                return Ok(false);
            }
            let c = rest.chars().next().unwrap_or('\0');
            let start = self.pos;
            if c.is_ascii() && is_space(c as u8) {
                let n = rest.len()
                    - rest
                        .trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8))
                        .len();
                self.pos += n;
                if self.rest().starts_with("-}}") {
                    if self.paren_depth > 0 {
                        return Err(self.err(self.pos, "unclosed left paren"));
                    }
                    self.emit(Tok::RightDelim, self.pos);
                    self.pos += 3;
                    return Ok(true);
                }
                if self.src[start..self.pos].contains('\n') && !self.rest().starts_with(RIGHT) {
                    // Go 1.16+ allows newlines inside actions.
                }
                self.emit(Tok::Space, start);
                continue;
            }
            match c {
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, start);
                }
                ':' => {
                    if !rest.starts_with(":=") {
                        return Err(self.err(start, "expected :="));
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, start);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Tok::Comma, start);
                }
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Tok::LeftParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.paren_depth -= 1;
                    self.pos += 1;
                    self.emit(Tok::RightParen, start);
                }
                '"' => self.quote(start)?,
                '`' => {
                    let Some(end) = rest[1..].find('`') else {
                        return Err(self.err(start, "unterminated raw quoted string"));
                    };
                    let text = rest[..end + 2].to_string();
                    let value = text[1..text.len() - 1].replace('\r', "");
                    self.pos += text.len();
                    self.emit(Tok::Str(value, text), start);
                }
                '\'' => self.char_const(start)?,
                '$' => {
                    let n = 1 + rest[1..]
                        .find(|c: char| !is_alnum(c))
                        .unwrap_or(rest.len() - 1);
                    let name = rest[..n].to_string();
                    self.pos += n;
                    self.emit(Tok::Variable(name), start);
                }
                '.' => {
                    let next = rest[1..].chars().next();
                    if next.is_some_and(|c| c.is_ascii_digit()) {
                        self.number(start)?;
                    } else if next.is_some_and(is_alnum) {
                        let n = 1 + rest[1..]
                            .find(|c: char| !is_alnum(c))
                            .unwrap_or(rest.len() - 1);
                        let name = rest[1..n].to_string();
                        self.pos += n;
                        self.emit(Tok::Field(name), start);
                    } else {
                        self.pos += 1;
                        self.emit(Tok::Dot, start);
                    }
                }
                '+' | '-' | '0'..='9' => self.number(start)?,
                c if is_alnum(c) => {
                    let n = rest.find(|c: char| !is_alnum(c)).unwrap_or(rest.len());
                    let word = &rest[..n];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match Keyword::from_word(w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(w.to_string()),
                        },
                    };
                    self.pos += n;
                    self.emit(tok, start);
                }
                c => {
                    return Err(self.err(
                        start,
                        format!("unrecognized character in action: {}", go_quote_rune(c)),
                    ));
                }
            }
        }
    }

    fn quote(&mut self, start: usize) -> Result<(), LexError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 1;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => return Err(self.err(start, "unterminated quoted string")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                _ => i += 1,
            }
        }
        let text = &rest[..=i];
        let value =
            unquote(text).map_err(|_| self.err(start, format!("invalid syntax: {text}")))?;
        let text = text.to_string();
        self.pos += text.len();
        self.emit(Tok::Str(value, text), start);
        Ok(())
    }

    fn char_const(&mut self, start: usize) -> Result<(), LexError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 1;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => {
                    return Err(self.err(start, "unterminated character constant"));
                }
                Some(b'\\') => i += 2,
                Some(b'\'') => break,
                _ => i += 1,
            }
        }
        let text = &rest[..=i];
        let inner = format!("\"{}\"", &text[1..text.len() - 1]);
        let value = unquote(&inner)
            .map_err(|_| self.err(start, format!("malformed character constant: {text}")))?;
        let mut chars = value.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(self.err(start, format!("malformed character constant: {text}")));
        };
        let text = text.to_string();
        self.pos += text.len();
        self.emit(Tok::Char(c, text), start);
        Ok(())
    }

    fn number(&mut self, start: usize) -> Result<(), LexError> {
        let rest = self.rest();
        let n = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphanumeric()
                    || c == '_'
                    || c == '.'
                    || ((c == '+' || c == '-')
                        && (i == 0 || matches!(rest.as_bytes()[i - 1], b'e' | b'E' | b'p' | b'P'))))
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let text = &rest[..n];
        if parse_number(text).is_none() {
            return Err(self.err(start, format!("bad number syntax: \"{text}\"")));
        }
        let text = text.to_string();
        self.pos += n;
        self.emit(Tok::Number(text), start);
        Ok(())
    }
}

/// A numeric constant: its integer and float readings (when representable).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Number {
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// Written with a `.`, an exponent or as a hex float: a float constant.
    pub looks_float: bool,
}

pub(crate) fn parse_number(text: &str) -> Option<Number> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.ends_with('i') {
        return None;
    }
    let clean = body.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let radix_int = |digits: &str, radix: u32| -> Option<Number> {
        let v = i128::from_str_radix(digits, radix).ok()?;
        let v = if neg { -v } else { v };
        Some(Number {
            int: i64::try_from(v).ok(),
            float: Some(v as f64),
            looks_float: false,
        })
    };
    if let Some(h) = lower.strip_prefix("0x") {
        if let Some((mant, exp)) = h.split_once('p') {
            // A hex float: mantissa × 2^exp.
            let exp: i32 = exp.parse().ok()?;
            let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
            let mut m = 0f64;
            for c in ip.chars() {
                m = m * 16.0 + f64::from(c.to_digit(16)?);
            }
            let mut scale = 1.0 / 16.0;
            for c in fp.chars() {
                m += f64::from(c.to_digit(16)?) * scale;
                scale /= 16.0;
            }
            let f = m * 2f64.powi(exp);
            let f = if neg { -f } else { f };
            let int = if f.fract() == 0.0 && f.abs() < 9.2e18 {
                Some(f as i64)
            } else {
                None
            };
            return Some(Number {
                int,
                float: Some(f),
                looks_float: true,
            });
        }
        if h.contains('.') {
            return None;
        }
        return radix_int(h, 16);
    }
    if let Some(o) = lower.strip_prefix("0o") {
        return radix_int(o, 8);
    }
    if let Some(b) = lower.strip_prefix("0b") {
        return radix_int(b, 2);
    }
    if !lower
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
    {
        return None;
    }
    let looks_float = lower.contains('.') || lower.contains('e');
    if !looks_float {
        if lower.len() > 1 && lower.starts_with('0') {
            return radix_int(&lower[1..], 8);
        }
        return radix_int(&lower, 10);
    }
    let f: f64 = lower.parse().ok()?;
    let f = if neg { -f } else { f };
    let int = if f.fract() == 0.0 && f.abs() < 9.2e18 {
        Some(f as i64)
    } else {
        None
    };
    Some(Number {
        int,
        float: Some(f),
        looks_float: true,
    })
}

/// Go's `strconv.Unquote` for a double-quoted string.
pub(crate) fn unquote(text: &str) -> Result<String, ()> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or(())?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or(())?;
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(n).collect();
                if hex.len() != n {
                    return Err(());
                }
                let v = u32::from_str_radix(&hex, 16).map_err(|_| ())?;
                if e == 'x' {
                    // A byte; only valid UTF-8 when ASCII.
                    out.push(char::from_u32(v).ok_or(())?);
                } else {
                    out.push(char::from_u32(v).ok_or(())?);
                }
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).map_err(|_| ())?;
                out.push(char::from_u32(v).ok_or(())?);
            }
            _ => return Err(()),
        }
    }
    Ok(out)
}

/// Go's `%q` of a rune, for error texts.
fn go_quote_rune(c: char) -> String {
    // Go's `%#U`: `U+002F '/'`.
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}
