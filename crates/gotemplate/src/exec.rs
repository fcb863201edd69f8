//! The executor: walks a tree with a dot value and writes the output, as Go's
//! `text/template/exec.go` does.

use std::collections::HashMap;
use std::rc::Rc;

use crate::engine::Engine;
use crate::funcs::{Func, Ty};
use crate::parse::{
    self, Arg, ArgDisplay, ArgKind, Branch, Cmd, CmdDisplay, List, Node, Pipe, Tree,
};
use crate::value::V;
use crate::value::type_name;
use crate::{Error, MissingKey, fmt};

/// Go's limit on nested template calls.
const MAX_EXEC_DEPTH: usize = 100_000;

/// How much of the thread's stack nested templates may use. Go grows its stacks, so a
/// template that includes itself runs until Helm's limit of 1,000 nested includes;
/// here that would overflow the stack of a test thread (2 MiB), so nesting stops
/// earlier, with an error, once 1 MiB of stack is in use (leaving room for the caller's own frames).
const STACK_BUDGET: usize = 1024 * 1024;

/// The address of a local variable: how deep the stack is here.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// Templates parsed by `tpl`, seen before the engine's own.
pub(crate) struct Overlay {
    pub trees: HashMap<String, Rc<Tree>>,
}

/// The state of one execution (Go's `state`).
pub(crate) struct State<'e> {
    pub engine: &'e Engine,
    tree: Rc<Tree>,
    vars: Vec<(String, V)>,
    depth: usize,
    pub overlays: Vec<Overlay>,
    pub include_counts: HashMap<String, usize>,
    stack_base: usize,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, Error>;

impl<'e> State<'e> {
    pub(crate) fn new(engine: &'e Engine, tree: Rc<Tree>) -> Self {
        State {
            engine,
            tree,
            vars: Vec::new(),
            depth: 0,
            overlays: Vec::new(),
            include_counts: HashMap::new(),
            stack_base: stack_position(),
        }
    }

    /// Finds a template by name, through the `tpl` overlays first.
    pub(crate) fn lookup(&self, name: &str) -> Option<Rc<Tree>> {
        // Each `tpl` parses into a copy of the set: its templates replace those of the
        // same name, except that an empty definition does not replace a full one.
        let mut fallback = None;
        for o in self.overlays.iter().rev() {
            if let Some(t) = o.trees.get(name) {
                if !t.is_empty() {
                    return Some(t.clone());
                }
                fallback.get_or_insert_with(|| t.clone());
            }
        }
        match self.engine.tree(name) {
            Some(t) if fallback.is_none() || !t.is_empty() => Some(t),
            _ => fallback,
        }
    }

    /// An error when nested templates have used up the stack budget.
    pub(crate) fn check_stack(&self) -> Result<(), String> {
        let used = self.stack_base.abs_diff(stack_position());
        if used > STACK_BUDGET {
            return Err(format!(
                "templates nested too deeply ({} levels): stopped before the stack runs out",
                self.depth
            ));
        }
        Ok(())
    }

    /// Runs the template `tree` with `dot`, writing to `out` (Go's `Execute`).
    pub(crate) fn run(&mut self, tree: Rc<Tree>, dot: &V, out: &mut String) -> R<()> {
        let saved_tree = std::mem::replace(&mut self.tree, tree.clone());
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), dot.clone())]);
        self.depth += 1;
        let r = self.walk_list(dot, &tree.root, out);
        self.depth -= 1;
        self.tree = saved_tree;
        self.vars = saved_vars;
        r.map(|_| ())
    }

    fn error(&self, pos: usize, node: String, message: impl Into<String>) -> Error {
        let (line, col) = self.tree.line_col(pos);
        // Go shows at most 20 characters of the node.
        let node = if node.len() > 20 {
            let cut: String = node.chars().take(20).collect();
            format!("{cut}...")
        } else {
            node
        };
        Error {
            template: self.tree.parse_name.clone(),
            line,
            col: Some(col),
            executing: Some((self.tree.name.clone(), node)),
            message: message.into(),
        }
    }

    /// An error about a pipeline's value, at the node Go evaluated last: the last
    /// argument of its last command.
    fn last_node_error(&self, pipe: &Pipe, message: impl Into<String>) -> Error {
        match pipe.cmds.last().and_then(|c| c.args.last()) {
            Some(a) => self.arg_error(a, message),
            None => self.error(pipe.pos, parse::PipeDisplay(pipe).to_string(), message),
        }
    }

    fn arg_error(&self, arg: &Arg, message: impl Into<String>) -> Error {
        self.error(arg.pos, ArgDisplay(arg).to_string(), message)
    }

    fn walk_list(&mut self, dot: &V, list: &List, out: &mut String) -> R<Flow> {
        for node in list {
            match self.walk(dot, node, out)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &V, node: &Node, out: &mut String) -> R<Flow> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(pipe, &v, out)?;
                }
            }
            Node::If(b) => return self.walk_if_or_with(dot, b, false, out),
            Node::With(b) => return self.walk_if_or_with(dot, b, true, out),
            Node::Range(b) => return self.walk_range(dot, b, out),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Template { pos, name, pipe } => {
                let Some(tree) = self.lookup(name) else {
                    return Err(self.error(
                        *pos,
                        template_text(name, pipe.as_ref()),
                        format!("template {name:?} not defined"),
                    ));
                };
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => V::Nil,
                };
                if self.depth >= MAX_EXEC_DEPTH {
                    return Err(self.error(
                        *pos,
                        template_text(name, pipe.as_ref()),
                        format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})"),
                    ));
                }
                if let Err(e) = self.check_stack() {
                    return Err(self.error(*pos, template_text(name, pipe.as_ref()), e));
                }
                self.depth += 1;
                let saved_tree = std::mem::replace(&mut self.tree, tree.clone());
                let saved_vars =
                    std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
                let r = self.walk_list(&new_dot, &tree.root, out);
                self.tree = saved_tree;
                self.vars = saved_vars;
                self.depth -= 1;
                r?;
            }
        }
        Ok(Flow::Normal)
    }

    fn print_value(&self, pipe: &Pipe, v: &V, out: &mut String) -> R<()> {
        match v {
            V::Nil => out.push_str("<no value>"),
            V::Object(o) if o.type_name() == "func" => {
                return Err(self.error(
                    pipe.pos,
                    parse::PipeDisplay(pipe).to_string(),
                    "can't print value of type func",
                ));
            }
            v => fmt::write_v(out, v),
        }
        Ok(())
    }

    fn walk_if_or_with(&mut self, dot: &V, b: &Branch, with: bool, out: &mut String) -> R<Flow> {
        let mark = self.vars.len();
        let r = (|| {
            let v = self.eval_pipeline(dot, &b.pipe)?;
            let truth = is_true(&v).ok_or_else(|| {
                self.error(
                    b.pos,
                    parse::PipeDisplay(&b.pipe).to_string(),
                    "if/with can't use value",
                )
            })?;
            if truth {
                if with {
                    self.walk_list(&v, &b.list, out)
                } else {
                    self.walk_list(dot, &b.list, out)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e, out)
            } else {
                Ok(Flow::Normal)
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &V, b: &Branch, out: &mut String) -> R<Flow> {
        let mark = self.vars.len();
        let r = self.walk_range_inner(dot, b, out);
        self.vars.truncate(mark);
        r.map(|_| Flow::Normal)
    }

    fn walk_range_inner(&mut self, dot: &V, b: &Branch, out: &mut String) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let pipe = &b.pipe;
        let (count, items): (usize, Box<dyn Iterator<Item = (V, V)>>) = match &val {
            V::List(l) => {
                let l = l.clone();
                (
                    l.len(),
                    Box::new((0..l.len()).map(move |i| (V::Int(i as i64), l[i].clone()))),
                )
            }
            V::Map(m) => {
                let entries: Vec<(V, V)> = m
                    .borrow()
                    .iter()
                    .map(|(k, v)| (V::Str(k.clone()), v.clone()))
                    .collect();
                (entries.len(), Box::new(entries.into_iter()))
            }
            V::Int(n) => {
                if pipe.decl.len() > 1 {
                    return Err(self
                        .last_node_error(pipe, "can't use integer as a range with two variables"));
                }
                let n = (*n).max(0);
                (n as usize, Box::new((0..n).map(|i| (V::Int(i), V::Int(i)))))
            }
            V::Nil => (0, Box::new(std::iter::empty())),
            V::Float(_) | V::Bool(_) | V::Str(_) | V::Object(_) => {
                return Err(self.last_node_error(
                    pipe,
                    format!("range can't iterate over {}", fmt::sprint_v(&val)),
                ));
            }
        };
        if count == 0 {
            if let Some(e) = &b.else_list {
                self.walk_list(dot, e, out)?;
            }
            return Ok(());
        }
        let n = self.vars.len();
        for (index, elem) in items {
            if !pipe.decl.is_empty() {
                if pipe.is_assign {
                    if pipe.decl.len() > 1 {
                        self.set_var(&pipe.decl[0], index.clone());
                        self.set_var(&pipe.decl[1], elem.clone());
                    } else {
                        self.set_var(&pipe.decl[0], elem.clone());
                    }
                } else {
                    let top = n - 1;
                    if pipe.decl.len() > 1 {
                        self.vars[top - 1].1 = index.clone();
                        self.vars[top].1 = elem.clone();
                    } else {
                        self.vars[top].1 = elem.clone();
                    }
                }
            }
            let mark = self.vars.len();
            let flow = self.walk_list(&elem, &b.list, out);
            self.vars.truncate(mark);
            match flow? {
                Flow::Break => break,
                Flow::Continue | Flow::Normal => {}
            }
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: V) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &V, pipe: &Pipe) -> R<V> {
        let mut value: Option<V> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(V::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_command(&mut self, dot: &V, cmd: &Cmd, fin: Option<V>) -> R<V> {
        let first = &cmd.args[0];
        match &first.kind {
            ArgKind::Field(fields) => {
                return self.eval_field_chain(dot, dot.clone(), first, fields, &cmd.args[1..], fin);
            }
            ArgKind::Chain(node, fields) => {
                let recv = self.eval_arg_any(dot, node)?;
                return self.eval_field_chain(dot, recv, first, fields, &cmd.args[1..], fin);
            }
            ArgKind::Ident(name) => return self.eval_function(dot, name, cmd, fin),
            ArgKind::Pipe(p) => {
                self.not_a_function(cmd, fin.as_ref())?;
                return self.eval_pipeline(dot, p);
            }
            ArgKind::Variable(vs) => {
                let v = self.var_value(first, &vs[0])?;
                if vs.len() == 1 {
                    self.not_a_function(cmd, fin.as_ref())?;
                    return Ok(v);
                }
                return self.eval_field_chain(dot, v, first, &vs[1..], &cmd.args[1..], fin);
            }
            _ => {}
        }
        self.not_a_function(cmd, fin.as_ref())?;
        Ok(match &first.kind {
            ArgKind::Bool(b) => V::Bool(*b),
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => return Err(self.arg_error(first, "nil is not a command")),
            ArgKind::Number(n, _) => number_value(n),
            ArgKind::Str(s, _) => V::Str(s.clone()),
            _ => unreachable!("handled above"),
        })
    }

    fn not_a_function(&self, cmd: &Cmd, fin: Option<&V>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return Err(self.arg_error(
                &cmd.args[0],
                format!(
                    "can't give argument to non-function {}",
                    ArgDisplay(&cmd.args[0])
                ),
            ));
        }
        Ok(())
    }

    fn var_value(&self, arg: &Arg, name: &str) -> R<V> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.arg_error(arg, format!("undefined variable: {name}"))),
        }
    }

    /// `.a.b.c args...`: each field of the receiver in turn; the last one gets the
    /// arguments (a method call).
    fn eval_field_chain(
        &mut self,
        dot: &V,
        receiver: V,
        node: &Arg,
        fields: &[String],
        args: &[Arg],
        fin: Option<V>,
    ) -> R<V> {
        let mut recv = receiver;
        // A nil reached through a map entry is a nil interface; a nil that starts the
        // chain (a variable or a pipeline's result) is Go's invalid value.
        let mut nil_interface = false;
        let n = fields.len();
        for (i, name) in fields.iter().enumerate() {
            let last = i + 1 == n;
            let (a, f): (&[Arg], Option<V>) = if last {
                (args, fin.clone())
            } else {
                (&[], None)
            };
            let (v, is_iface) = self.eval_field(dot, name, node, a, f, recv, nil_interface)?;
            recv = v;
            nil_interface = is_iface;
        }
        Ok(recv)
    }

    // Go's evalField takes the same eight inputs; bundling them would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &V,
        name: &str,
        node: &Arg,
        args: &[Arg],
        fin: Option<V>,
        recv: V,
        nil_interface: bool,
    ) -> R<(V, bool)> {
        let has_args = !args.is_empty() || fin.is_some();
        match &recv {
            V::Nil if nil_interface => Err(self.arg_error(
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            V::Nil => {
                if self.engine.missing_key == MissingKey::Error {
                    return Err(
                        self.arg_error(node, format!("nil data; no entry for key {name:?}"))
                    );
                }
                Ok((V::Nil, false))
            }
            V::Map(m) => {
                if has_args {
                    return Err(
                        self.arg_error(node, format!("{name} is not a method but has arguments"))
                    );
                }
                let got = m.borrow().get(name).cloned();
                match got {
                    Some(v) => Ok((v, true)),
                    None => match self.engine.missing_key {
                        MissingKey::Default => Ok((V::Nil, false)),
                        MissingKey::Zero => Ok((V::Nil, true)),
                        MissingKey::Error => {
                            Err(self.arg_error(node, format!("map has no entry for key {name:?}")))
                        }
                    },
                }
            }
            V::Object(o) => {
                let mut argv = Vec::with_capacity(args.len() + 1);
                for a in args {
                    argv.push(self.eval_arg_any(dot, a)?);
                }
                if let Some(f) = fin {
                    argv.push(f);
                }
                let argv: Vec<crate::Value> = argv.iter().map(V::to_value).collect();
                if let Some(r) = o.method(name, &argv) {
                    return match r {
                        Ok(v) => Ok((V::from(&v), false)),
                        Err(e) => Err(self.arg_error(node, format!("error calling {name}: {e}"))),
                    };
                }
                match o.field(name) {
                    Some(v) => {
                        let v = V::from(&v);
                        if has_args {
                            return Err(self.arg_error(
                                node,
                                format!("{name} has arguments but cannot be invoked as function"),
                            ));
                        }
                        Ok((v, true))
                    }
                    None => Err(self.arg_error(
                        node,
                        format!("can't evaluate field {name} in type {}", o.type_name()),
                    )),
                }
            }
            other => Err(self.arg_error(
                node,
                format!("can't evaluate field {name} in type {}", type_name(other)),
            )),
        }
    }

    fn eval_function(&mut self, dot: &V, name: &str, cmd: &Cmd, fin: Option<V>) -> R<V> {
        let node = &cmd.args[0];
        let args = &cmd.args[1..];
        match name {
            "and" | "or" => {
                let is_and = name == "and";
                if args.is_empty() && fin.is_none() {
                    return Err(self.arg_error(
                        node,
                        format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                let mut last = V::Nil;
                for a in args {
                    last = self.eval_arg_any(dot, a)?;
                    let t = is_true(&last).unwrap_or(false);
                    if t != is_and {
                        return Ok(last);
                    }
                }
                if let Some(f) = fin {
                    last = f;
                }
                return Ok(last);
            }
            "call" => {
                return Err(self.error(
                    cmd.pos,
                    CmdDisplay(cmd).to_string(),
                    "error calling call: this engine has no function values to call",
                ));
            }
            _ => {}
        }
        let Some(func) = self.engine.func(name) else {
            return Err(self.arg_error(node, format!("{name:?} is not a defined function")));
        };
        let argv = self.eval_args(dot, name, func, cmd, args, fin)?;
        match (func.f)(self, &argv) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.error(
                cmd.pos,
                CmdDisplay(cmd).to_string(),
                format!("error calling {name}: {e}"),
            )),
        }
    }

    fn eval_args(
        &mut self,
        dot: &V,
        name: &str,
        func: &Func,
        cmd: &Cmd,
        args: &[Arg],
        fin: Option<V>,
    ) -> R<Vec<V>> {
        let given = args.len() + usize::from(fin.is_some());
        let fixed = func.params.len();
        match func.variadic {
            None if given != fixed => {
                return Err(self.arg_error(
                    &cmd.args[0],
                    format!("wrong number of args for {name}: want {fixed} got {given}"),
                ));
            }
            Some(_) if given < fixed => {
                return Err(self.arg_error(
                    &cmd.args[0],
                    format!(
                        "wrong number of args for {name}: want at least {fixed} got {}",
                        args.len()
                    ),
                ));
            }
            _ => {}
        }
        let ty_at = |i: usize| {
            if i < fixed {
                func.params[i]
            } else {
                func.variadic.unwrap_or(Ty::Any)
            }
        };
        let mut argv = Vec::with_capacity(given);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, a, ty_at(i))?);
        }
        if let Some(f) = fin {
            let ty = ty_at(args.len());
            // Go reports a bad final value at the last node it evaluated: the last
            // explicit argument, or the function's name.
            let node = cmd.args.last().unwrap_or(&cmd.args[0]);
            argv.push(self.validate(node, f, ty)?);
        }
        Ok(argv)
    }

    /// An argument for an `interface{}` parameter.
    fn eval_arg_any(&mut self, dot: &V, a: &Arg) -> R<V> {
        self.eval_arg(dot, a, Ty::Any)
    }

    fn eval_arg(&mut self, dot: &V, a: &Arg, ty: Ty) -> R<V> {
        match &a.kind {
            ArgKind::Dot => self.validate(a, dot.clone(), ty),
            ArgKind::Nil => match ty {
                Ty::Any | Ty::Map => Ok(V::Nil),
                _ => Err(self.arg_error(a, format!("cannot assign nil to {}", ty.go_name()))),
            },
            ArgKind::Field(fields) => {
                let v = self.eval_field_chain(dot, dot.clone(), a, fields, &[], None)?;
                self.validate(a, v, ty)
            }
            ArgKind::Variable(vs) => {
                let v = self.var_value(a, &vs[0])?;
                let v = if vs.len() > 1 {
                    self.eval_field_chain(dot, v, a, &vs[1..], &[], None)?
                } else {
                    v
                };
                self.validate(a, v, ty)
            }
            ArgKind::Pipe(p) => {
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, p);
                self.vars.truncate(mark);
                self.validate(a, v?, ty)
            }
            ArgKind::Chain(node, fields) => {
                let recv = self.eval_arg_any(dot, node)?;
                let v = self.eval_field_chain(dot, recv, a, fields, &[], None)?;
                self.validate(a, v, ty)
            }
            ArgKind::Ident(name) => {
                let cmd = Cmd {
                    pos: a.pos,
                    args: vec![Arg {
                        pos: a.pos,
                        kind: ArgKind::Ident(name.clone()),
                    }],
                };
                let v = self.eval_function(dot, name, &cmd, None)?;
                self.validate(a, v, ty)
            }
            ArgKind::Bool(b) => match ty {
                Ty::Any | Ty::Bool => Ok(V::Bool(*b)),
                _ => Err(self.arg_error(a, format!("expected {}; found {b}", ty.go_name()))),
            },
            ArgKind::Str(s, text) => match ty {
                Ty::Any | Ty::Str => Ok(V::Str(s.clone())),
                _ => Err(self.arg_error(a, format!("expected {}; found {text}", ty.go_name()))),
            },
            ArgKind::Number(n, text) => match ty {
                Ty::Any => Ok(number_value(n)),
                Ty::Int => match n.int {
                    Some(i) if !n.looks_float || n.float.is_some_and(|f| f.fract() == 0.0) => {
                        Ok(V::Int(i))
                    }
                    _ => Err(self.arg_error(a, format!("expected integer; found {text}"))),
                },
                Ty::Float => match n.float {
                    Some(f) => Ok(V::Float(f)),
                    None => Err(self.arg_error(a, format!("expected float; found {text}"))),
                },
                _ => Err(self.arg_error(a, format!("expected {}; found {text}", ty.go_name()))),
            },
        }
    }

    /// Checks a computed value against a parameter type (Go's `validateType`).
    fn validate(&self, a: &Arg, v: V, ty: Ty) -> R<V> {
        let ok = match (&v, ty) {
            (_, Ty::Any) => true,
            (V::Nil, Ty::Map) => true,
            (V::Nil, _) => {
                return Err(self.arg_error(a, format!("invalid value; expected {}", ty.go_name())));
            }
            (V::Str(_), Ty::Str) | (V::Bool(_), Ty::Bool) | (V::Int(_), Ty::Int) => true,
            (V::Float(_), Ty::Float) | (V::Map(_), Ty::Map) => true,
            _ => false,
        };
        if !ok {
            return Err(self.arg_error(
                a,
                format!(
                    "wrong type for value; expected {}; got {}",
                    ty.go_name(),
                    type_name(&v)
                ),
            ));
        }
        Ok(v)
    }
}

/// Go's text of a template node: `{{template "name" pipeline}}`.
fn template_text(name: &str, pipe: Option<&Pipe>) -> String {
    match pipe {
        Some(p) => format!("{{{{template {name:?} {}}}}}", parse::PipeDisplay(p)),
        None => format!("{{{{template {name:?}}}}}"),
    }
}

/// A numeric constant as an `interface{}` argument: `int` unless written as a float.
fn number_value(n: &crate::lex::Number) -> V {
    match (n.looks_float, n.int, n.float) {
        (false, Some(i), _) => V::Int(i),
        (_, _, Some(f)) => V::Float(f),
        (_, Some(i), None) => V::Int(i),
        (_, None, None) => V::Nil,
    }
}

/// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
pub(crate) fn is_true(v: &V) -> Option<bool> {
    Some(match v {
        V::Nil => false,
        V::Bool(b) => *b,
        V::Int(i) => *i != 0,
        V::Float(f) => *f != 0.0,
        V::Str(s) => !s.is_empty(),
        V::List(l) => !l.is_empty(),
        V::Map(m) => !m.borrow().is_empty(),
        V::Object(_) => true,
    })
}
