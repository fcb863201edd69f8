//! A set of templates sharing one namespace, and the functions they may call.

use std::collections::HashMap;
use std::rc::Rc;

use crate::exec::State;
use crate::funcs::{self, Func};
use crate::parse::{self, Tree};
use crate::value::V;
use crate::{Error, Value};

/// What a missing map key gives: Go's `missingkey` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `missingkey=default`: `<no value>`, and further fields of it are also empty.
    #[default]
    Default,
    /// `missingkey=zero`: the zero value of the map's element type, a nil interface
    /// (Helm's default).
    Zero,
    /// `missingkey=error`: execution stops with an error (Helm's `--strict`).
    Error,
}

/// The `lookup` callback: apiVersion, kind, namespace, name to an object (or a list).
pub type LookupFn = Box<dyn Fn(&str, &str, &str, &str) -> Result<Value, String>>;

/// Parsed templates in one namespace, with their functions.
///
/// A template's `define`s join the namespace when it is parsed; a later definition of
/// a name replaces the earlier one unless it is empty, as in Go.
#[derive(Clone)]
pub struct Engine {
    trees: HashMap<String, Rc<Tree>>,
    funcs: Rc<HashMap<&'static str, Func>>,
    pub(crate) missing_key: MissingKey,
    pub(crate) lookup: Option<Rc<LookupFn>>,
    pub(crate) root_name: String,
}

/// A dot value prepared once and shared by several executions: changes a template
/// makes to its maps (`set`, `unset`, `merge`) are seen by the templates executed after
/// it, as when Helm passes one values map to every template of a chart.
pub struct Dot(pub(crate) V);

impl Dot {
    /// Prepares `v` for execution.
    pub fn new(v: &Value) -> Dot {
        Dot(V::from(v))
    }

    /// The value now, including changes made by templates.
    pub fn value(&self) -> Value {
        self.0.to_value()
    }

    /// Sets a top-level key when the dot is a map, as Helm sets `.Template` before
    /// each template; the rest of the map stays shared.
    pub fn set(&self, key: &str, v: &Value) {
        if let V::Map(m) = &self.0 {
            m.borrow_mut().insert(key.to_string(), V::from(v));
        }
    }
}

impl Engine {
    /// Go's builtin functions only (`and`, `eq`, `printf`, `index`, ...).
    pub fn go() -> Self {
        Engine {
            trees: HashMap::new(),
            funcs: Rc::new(funcs::go_builtins()),
            missing_key: MissingKey::Default,
            lookup: None,
            root_name: "gotpl".to_string(),
        }
    }

    /// Go's builtins, Sprig v3 as Helm registers it (without `env` and `expandenv`),
    /// and Helm's own functions; missing keys give zero values, as in Helm.
    pub fn helm() -> Self {
        Engine {
            trees: HashMap::new(),
            funcs: Rc::new(funcs::helm_funcs()),
            missing_key: MissingKey::Zero,
            lookup: None,
            root_name: "gotpl".to_string(),
        }
    }

    pub(crate) fn tree(&self, name: &str) -> Option<Rc<Tree>> {
        self.trees.get(name).cloned()
    }

    pub(crate) fn func(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }

    /// Whether a function of that name exists.
    pub fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || matches!(name, "and" | "or" | "call")
    }

    /// Parses `source` as the template `name`; its `define`s join the set.
    ///
    /// # Errors
    /// A syntax error, printed as Go prints it: `template: NAME:LINE: MESSAGE`.
    pub fn parse(&mut self, name: &str, source: &str) -> Result<(), Error> {
        let trees = self.parse_trees(name, source)?;
        for t in trees {
            self.add_tree(t);
        }
        Ok(())
    }

    pub(crate) fn parse_trees(&self, name: &str, source: &str) -> Result<Vec<Tree>, Error> {
        parse::parse(name, source, &|f| self.has_func(f)).map_err(|e| Error {
            template: name.to_string(),
            line: e.line,
            col: None,
            executing: None,
            message: e.message,
        })
    }

    fn add_tree(&mut self, t: Tree) {
        if let Some(old) = self.trees.get(&t.name)
            && t.is_empty()
            && !old.is_empty()
        {
            return;
        }
        self.trees.insert(t.name.clone(), Rc::new(t));
    }

    /// Whether a template of that name exists (a file or a `define`).
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The names of all templates, sorted.
    pub fn template_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.trees.keys().cloned().collect();
        v.sort();
        v
    }

    /// Executes the template `name` with `dot`.
    ///
    /// # Errors
    /// An execution error, printed as Go prints it:
    /// `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
    pub fn execute(&self, name: &str, dot: &Value) -> Result<String, Error> {
        self.execute_dot(name, &Dot::new(dot))
    }

    /// Executes the template `name` with a shared [`Dot`].
    ///
    /// # Errors
    /// As [`Engine::execute`].
    pub fn execute_dot(&self, name: &str, dot: &Dot) -> Result<String, Error> {
        let Some(tree) = self.tree(name) else {
            return Err(Error::plain(format!(
                "template: no template {name:?} associated with template {:?}",
                self.root_name
            )));
        };
        let mut out = String::new();
        let mut state = State::new(self, tree.clone());
        state.run(tree, &dot.0, &mut out)?;
        Ok(out)
    }

    /// Sets what a missing map key gives.
    pub fn set_missing_key(&mut self, mode: MissingKey) {
        self.missing_key = mode;
    }

    /// Sets how `lookup` reaches a cluster; without it `lookup` gives an empty map, as
    /// `helm template` does.
    pub fn set_lookup(&mut self, f: LookupFn) {
        self.lookup = Some(Rc::new(f));
    }
}
