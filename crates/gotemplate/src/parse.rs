//! The parser: tokens to trees, one per template (the file's own and each `define`).

use std::fmt;
use std::rc::Rc;

use crate::lex::{self, Keyword, Number, Tok, Token};

pub(crate) type List = Vec<Node>;

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

#[derive(Debug)]
pub(crate) enum ArgKind {
    /// `.a.b.c`
    Field(Vec<String>),
    /// `$x.a.b` (the first element is the variable's name with its `$`).
    Variable(Vec<String>),
    Dot,
    Nil,
    Bool(bool),
    Number(Number, String),
    Str(String, String),
    Ident(String),
    Pipe(Pipe),
    /// `(pipeline).a.b`
    Chain(Box<Arg>, Vec<String>),
}

/// A template: a name, the source it was parsed from, and its tree.
#[derive(Debug)]
pub(crate) struct Tree {
    pub name: String,
    /// The name of the template whose source holds this tree (Go's `ParseName`).
    pub parse_name: String,
    pub source: Rc<str>,
    pub root: List,
}

impl Tree {
    /// Line and 0-based byte column of a position, as Go's `ErrorContext` counts them.
    pub(crate) fn line_col(&self, pos: usize) -> (usize, usize) {
        let before = &self.source[..pos.min(self.source.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - i - 1,
            None => pos,
        };
        (line, col)
    }

    /// Whether the tree holds only whitespace text (Go's "empty" template).
    pub(crate) fn is_empty(&self) -> bool {
        self.root
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
    }
}

/// A parse error: line and Go's message.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses `source` as the template `name`. Returns the template's own tree first and
/// then one tree per `define`/`block`.
pub(crate) fn parse(
    name: &str,
    source: &str,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, ParseError> {
    let tokens = lex::lex(source).map_err(|e| ParseError {
        line: e.line,
        message: e.message,
    })?;
    let source: Rc<str> = Rc::from(source);
    let mut p = Parser {
        tokens,
        i: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        is_func,
        defines: Vec::new(),
        name,
        source: source.clone(),
    };
    let root = p.top()?;
    let mut trees = vec![Tree {
        name: name.to_string(),
        parse_name: name.to_string(),
        source,
        root,
    }];
    trees.append(&mut p.defines);
    Ok(trees)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    is_func: &'a dyn Fn(&str) -> bool,
    defines: Vec<Tree>,
    name: &'a str,
    source: Rc<str>,
}

type PResult<T> = Result<T, ParseError>;

/// How a list of nodes ended.
enum End {
    Eof,
    Closed,
    Else(usize),
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.tokens.len() {
            self.i += 1;
        }
        t
    }

    fn peek_non_space(&mut self) -> &Token {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
        self.peek()
    }

    fn next_non_space(&mut self) -> Token {
        self.peek_non_space();
        self.next()
    }

    fn err<T>(&self, tok: &Token, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            line: tok.line,
            message: message.into(),
        })
    }

    fn top(&mut self) -> PResult<List> {
        let mut list = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Eof => return Ok(list),
                Tok::LeftDelim => {
                    let save = self.i;
                    self.next();
                    let k = self.next_non_space();
                    if k.tok == Tok::Keyword(Keyword::Define) {
                        self.define(k.pos)?;
                        continue;
                    }
                    self.i = save;
                    match self.text_or_action()? {
                        Item::Node(n) => list.push(n),
                        Item::End(tok) => return self.err(&tok, "unexpected {{end}}"),
                        Item::Else(tok, _) => return self.err(&tok, "unexpected {{else}}"),
                    }
                }
                _ => match self.text_or_action()? {
                    Item::Node(n) => list.push(n),
                    Item::End(tok) => return self.err(&tok, "unexpected {{end}}"),
                    Item::Else(tok, _) => return self.err(&tok, "unexpected {{else}}"),
                },
            }
        }
    }

    fn define(&mut self, _pos: usize) -> PResult<()> {
        let name_tok = self.next_non_space();
        let name = match &name_tok.tok {
            Tok::Str(v, _) => v.clone(),
            _ => {
                return self.err(
                    &name_tok,
                    format!("unexpected {} in define clause", describe(&name_tok)),
                );
            }
        };
        let close = self.next_non_space();
        if close.tok != Tok::RightDelim {
            return self.err(
                &close,
                format!("unexpected {} in define clause", describe(&close)),
            );
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        match end {
            End::Closed => {}
            End::Eof => return self.err(self.peek(), "unexpected EOF"),
            End::Else(_) => return self.err(self.peek(), "unexpected {{else}}"),
        }
        let tree = Tree {
            name,
            parse_name: self.name.to_string(),
            source: self.source.clone(),
            root: list,
        };
        self.add_define(tree)
    }

    /// Adds a `define`d tree: within one source, a name may be defined once (an empty
    /// definition may be replaced), as Go's parser requires.
    fn add_define(&mut self, tree: Tree) -> PResult<()> {
        if let Some(i) = self.defines.iter().position(|t| t.name == tree.name) {
            if !self.defines[i].is_empty() && !tree.is_empty() {
                let at = self.tokens[self.i.saturating_sub(1)].clone();
                return self.err(
                    &at,
                    format!("template: multiple definition of template {:?}", tree.name),
                );
            }
            if !tree.is_empty() {
                self.defines[i] = tree;
            }
            return Ok(());
        }
        self.defines.push(tree);
        Ok(())
    }

    /// Nodes up to `{{end}}`, `{{else}}` or EOF.
    fn item_list(&mut self) -> PResult<(List, End)> {
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof {
                return Ok((list, End::Eof));
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End(_) => return Ok((list, End::Closed)),
                Item::Else(_, pos) => return Ok((list, End::Else(pos))),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next();
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Node::Text(s))),
            Tok::LeftDelim => self.action(),
            _ => self.err(&t, format!("unexpected {} in input", describe(&t))),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.peek_non_space().clone();
        if let Tok::Keyword(k) = t.tok {
            self.next();
            return match k {
                Keyword::Block => self.block().map(Item::Node),
                Keyword::Break | Keyword::Continue => {
                    let close = self.next_non_space();
                    if close.tok != Tok::RightDelim {
                        return self.err(
                            &close,
                            format!("unexpected {} in {{{{{}}}}}", describe(&close), k.word()),
                        );
                    }
                    if self.range_depth == 0 {
                        return self.err(&t, format!("{{{{{}}}}} outside {{{{range}}}}", k.word()));
                    }
                    Ok(Item::Node(if k == Keyword::Break {
                        Node::Break
                    } else {
                        Node::Continue
                    }))
                }
                Keyword::Define => self.err(&t, "unexpected <define> in command"),
                Keyword::Else => {
                    // `else if` / `else with` keep the action open for the nested control.
                    let n = self.peek_non_space().clone();
                    if matches!(
                        n.tok,
                        Tok::Keyword(Keyword::If) | Tok::Keyword(Keyword::With)
                    ) {
                        return Ok(Item::Else(t, n.pos));
                    }
                    let close = self.next_non_space();
                    if close.tok != Tok::RightDelim {
                        return self
                            .err(&close, format!("unexpected {} in else", describe(&close)));
                    }
                    Ok(Item::Else(t, 0))
                }
                Keyword::End => {
                    let close = self.next_non_space();
                    if close.tok != Tok::RightDelim {
                        return self.err(&close, format!("unexpected {} in end", describe(&close)));
                    }
                    Ok(Item::End(t))
                }
                Keyword::If => self.control("if", t.pos).map(|b| Item::Node(Node::If(b))),
                Keyword::Range => {
                    self.range_depth += 1;
                    let r = self.control("range", t.pos);
                    self.range_depth -= 1;
                    r.map(|b| Item::Node(Node::Range(b)))
                }
                Keyword::With => self
                    .control("with", t.pos)
                    .map(|b| Item::Node(Node::With(b))),
                Keyword::Template => self.template("template").map(Item::Node),
            };
        }
        let pos = t.pos;
        let pipe = self.pipeline("command", pos)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn control(&mut self, context: &str, pos: usize) -> PResult<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, pos)?;
        if pipe.cmds.is_empty() {
            return self.err(self.peek(), format!("missing value for {context}"));
        }
        let (list, end) = self.item_list()?;
        let else_list = match end {
            End::Eof => return self.err(self.peek(), "unexpected EOF"),
            End::Closed => None,
            End::Else(0) => {
                let (else_list, end) = self.item_list()?;
                match end {
                    End::Closed => {}
                    End::Eof => return self.err(self.peek(), "unexpected EOF"),
                    End::Else(_) => return self.err(self.peek(), "expected end; found {{else}}"),
                }
                Some(else_list)
            }
            End::Else(_) => {
                // `{{else if ...}}`: a nested control that ends at our `{{end}}`.
                let k = self.next_non_space();
                let nested = match k.tok {
                    Tok::Keyword(Keyword::If) if context == "if" => {
                        Node::If(self.control("if", k.pos)?)
                    }
                    Tok::Keyword(Keyword::With) if context == "with" => {
                        Node::With(self.control("with", k.pos)?)
                    }
                    _ => {
                        return self.err(&k, format!("unexpected {} in input", describe(&k)));
                    }
                };
                Some(vec![nested])
            }
        };
        self.vars.truncate(mark);
        Ok(Branch {
            pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template(&mut self, context: &str) -> PResult<Node> {
        let name_tok = self.next_non_space();
        let name = match &name_tok.tok {
            Tok::Str(v, _) => v.clone(),
            _ => {
                return self.err(
                    &name_tok,
                    format!("unexpected {} in {} clause", describe(&name_tok), context),
                );
            }
        };
        let n = self.peek_non_space().clone();
        let pipe = if n.tok == Tok::RightDelim {
            self.next();
            None
        } else {
            Some(self.pipeline(context, n.pos)?)
        };
        // Go places the node at its name.
        Ok(Node::Template {
            pos: name_tok.pos,
            name,
            pipe,
        })
    }

    fn block(&mut self) -> PResult<Node> {
        let node = self.template("block")?;
        let Node::Template { name, .. } = &node else {
            unreachable!()
        };
        let name = name.clone();
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        match end {
            End::Closed => {}
            End::Eof => return self.err(self.peek(), "unexpected EOF"),
            End::Else(_) => return self.err(self.peek(), "unexpected {{else}}"),
        }
        let tree = Tree {
            name,
            parse_name: self.name.to_string(),
            source: self.source.clone(),
            root: list,
        };
        self.add_define(tree)?;
        Ok(node)
    }

    /// A pipeline up to the right delimiter (or `)` when `context` is "parenthesized pipeline").
    fn pipeline(&mut self, context: &str, pos: usize) -> PResult<Pipe> {
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        let end = if context == "parenthesized pipeline" {
            Tok::RightParen
        } else {
            Tok::RightDelim
        };
        // Declarations.
        let v = self.peek_non_space().clone();
        if let Tok::Variable(name) = &v.tok {
            let save = self.i;
            self.next();
            let n = self.peek_non_space().clone();
            match n.tok {
                Tok::Declare | Tok::Assign => {
                    self.next();
                    pipe.is_assign = n.tok == Tok::Assign;
                    pipe.decl.push(name.clone());
                    if !pipe.is_assign {
                        self.vars.push(name.clone());
                    } else if !self.vars.contains(name) {
                        return self.err(&v, format!("undefined variable {:?}", name));
                    }
                }
                Tok::Comma if context == "range" => {
                    self.next();
                    pipe.decl.push(name.clone());
                    let v2 = self.next_non_space();
                    let Tok::Variable(name2) = &v2.tok else {
                        return self.err(&v2, format!("missing variable after comma in {context}"));
                    };
                    let d = self.next_non_space();
                    match d.tok {
                        Tok::Declare => {
                            self.vars.push(name.clone());
                            self.vars.push(name2.clone());
                        }
                        Tok::Assign => {
                            pipe.is_assign = true;
                            for n in [name, name2] {
                                if !self.vars.contains(n) {
                                    return self.err(&v, format!("undefined variable {:?}", n));
                                }
                            }
                        }
                        _ => {
                            return self
                                .err(&d, format!("unexpected {} in {}", describe(&d), context));
                        }
                    }
                    pipe.decl.push(name2.clone());
                }
                Tok::Comma => {
                    return self.err(&n, format!("too many declarations in {context}"));
                }
                _ => self.i = save,
            }
        }
        loop {
            let t = self.peek_non_space().clone();
            if t.tok == end {
                self.next();
                if pipe.cmds.is_empty()
                    && context != "if"
                    && context != "range"
                    && context != "with"
                {
                    return self.err(&t, format!("missing value for {context}"));
                }
                self.check_pipeline(&pipe, &t)?;
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::Char(..)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(..)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    let cmd = self.command(&end)?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.err(&t, format!("unexpected {} in {}", describe(&t), context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, t: &Token) -> PResult<()> {
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                ArgKind::Bool(_)
                | ArgKind::Dot
                | ArgKind::Nil
                | ArgKind::Number(..)
                | ArgKind::Str(..),
            ) = c.args.first().map(|a| &a.kind)
            {
                return self.err(
                    t,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(())
    }

    fn command(&mut self, end: &Tok) -> PResult<Cmd> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Cmd {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            let arg = self.operand()?;
            cmd.args.push(arg);
            let t = self.peek().clone();
            match &t.tok {
                Tok::Space => {
                    let n = self.peek_non_space().clone();
                    if n.tok == *end
                        || n.tok == Tok::Pipe
                        || n.tok == Tok::RightDelim
                        || n.tok == Tok::RightParen
                    {
                        if n.tok == Tok::Pipe {
                            self.next();
                        }
                        if (n.tok == Tok::RightDelim || n.tok == Tok::RightParen) && n.tok != *end {
                            return self.err(&n, format!("unexpected {} in operand", describe(&n)));
                        }
                        return Ok(cmd);
                    }
                }
                tok if tok == end => return Ok(cmd),
                Tok::Pipe => {
                    self.next();
                    return Ok(cmd);
                }
                Tok::RightDelim | Tok::RightParen => {
                    return self.err(&t, format!("unexpected {} in operand", describe(&t)));
                }
                _ => return self.err(&t, format!("unexpected {} in operand", describe(&t))),
            }
        }
    }

    fn operand(&mut self) -> PResult<Arg> {
        let term = self.term()?;
        if let Tok::Field(_) = self.peek().tok {
            // Go gives a chained node the position of its first chained field.
            let pos = self.peek().pos;
            let mut fields = Vec::new();
            while let Tok::Field(f) = &self.peek().tok {
                fields.push(f.clone());
                self.next();
            }
            return Ok(match term.kind {
                ArgKind::Field(mut f) => {
                    f.extend(fields);
                    Arg {
                        pos,
                        kind: ArgKind::Field(f),
                    }
                }
                ArgKind::Variable(mut v) => {
                    v.extend(fields);
                    Arg {
                        pos,
                        kind: ArgKind::Variable(v),
                    }
                }
                ArgKind::Bool(_)
                | ArgKind::Str(..)
                | ArgKind::Number(..)
                | ArgKind::Nil
                | ArgKind::Dot => {
                    let t = self.tokens[self.i - 1].clone();
                    return self.err(
                        &t,
                        format!(
                            "unexpected . after term {:?}",
                            ArgDisplay(&term).to_string()
                        ),
                    );
                }
                _ => Arg {
                    pos,
                    kind: ArgKind::Chain(Box::new(term), fields),
                },
            });
        }
        Ok(term)
    }

    fn term(&mut self) -> PResult<Arg> {
        let t = self.next_non_space();
        let pos = t.pos;
        let kind = match t.tok.clone() {
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return self.err(&t, format!("function {name:?} not defined"));
                }
                ArgKind::Ident(name)
            }
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return self.err(&t, format!("undefined variable {name:?}"));
                }
                ArgKind::Variable(vec![name])
            }
            Tok::Field(f) => ArgKind::Field(vec![f]),
            Tok::Bool(b) => ArgKind::Bool(b),
            Tok::Char(c, text) => {
                let n = c as i64;
                ArgKind::Number(
                    Number {
                        int: Some(n),
                        float: Some(n as f64),
                        looks_float: false,
                    },
                    text,
                )
            }
            Tok::Number(text) => match lex::parse_number(&text) {
                Some(n) => ArgKind::Number(n, text),
                None => return self.err(&t, format!("illegal number syntax: {text:?}")),
            },
            Tok::Str(v, text) => ArgKind::Str(v, text),
            Tok::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", pos)?;
                ArgKind::Pipe(pipe)
            }
            _ => return self.err(&t, format!("unexpected {} in operand", describe(&t))),
        };
        Ok(Arg { pos, kind })
    }
}

enum Item {
    Node(Node),
    End(Token),
    Else(Token, usize),
}

/// How Go's parser names a token in its messages (`item.String()`): keywords as
/// `<if>`, anything else quoted, cut to 10 characters.
fn describe(t: &Token) -> String {
    let text = match &t.tok {
        Tok::Eof => return "EOF".to_string(),
        Tok::Keyword(k) => return format!("<{}>", k.word()),
        Tok::RightDelim => "}}".to_string(),
        Tok::LeftDelim => "{{".to_string(),
        Tok::RightParen => ")".to_string(),
        Tok::LeftParen => "(".to_string(),
        Tok::Pipe => "|".to_string(),
        Tok::Text(s) => s.clone(),
        Tok::Space => " ".to_string(),
        Tok::Ident(s) | Tok::Number(s) | Tok::Variable(s) => s.clone(),
        Tok::Field(s) => format!(".{s}"),
        Tok::Str(_, text) | Tok::Char(_, text) => text.clone(),
        Tok::Bool(b) => b.to_string(),
        Tok::Nil => "nil".to_string(),
        Tok::Dot => ".".to_string(),
        Tok::Assign => "=".to_string(),
        Tok::Declare => ":=".to_string(),
        Tok::Comma => ",".to_string(),
    };
    if text.chars().count() > 10 {
        let cut: String = text.chars().take(10).collect();
        format!("{}...", crate::fmt::go_quote(&cut))
    } else {
        crate::fmt::go_quote(&text)
    }
}

/// Prints a node as Go's `String()` methods do (used in `executing ... at <...>`).
pub(crate) struct ArgDisplay<'a>(pub &'a Arg);
pub(crate) struct CmdDisplay<'a>(pub &'a Cmd);
pub(crate) struct PipeDisplay<'a>(pub &'a Pipe);

impl fmt::Display for ArgDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.kind {
            ArgKind::Field(fs) => {
                for x in fs {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            ArgKind::Variable(vs) => f.write_str(&vs.join(".")),
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(_, text) | ArgKind::Str(_, text) => f.write_str(text),
            ArgKind::Ident(s) => f.write_str(s),
            ArgKind::Pipe(p) => write!(f, "({})", PipeDisplay(p)),
            ArgKind::Chain(node, fields) => {
                match &node.kind {
                    ArgKind::Pipe(p) => write!(f, "({})", PipeDisplay(p))?,
                    _ => write!(f, "{}", ArgDisplay(node))?,
                }
                for x in fields {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for CmdDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}", ArgDisplay(a))?;
        }
        Ok(())
    }
}

impl fmt::Display for PipeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.decl.is_empty() {
            f.write_str(&self.0.decl.join(", "))?;
            f.write_str(if self.0.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.0.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}", CmdDisplay(c))?;
        }
        Ok(())
    }
}
