//! Python: blocking calls inside `async def` bodies.
//!
//! Names are resolved the way Python does (LEGB, without the class scope):
//! each function's own bindings, then the enclosing functions', then the
//! module's (imports with their aliases, `from M import *` for modules in the
//! rule table), then builtins. A call is matched on its canonical path, so
//! `r.get` after `import requests as r` is `requests.get`, and a method call on
//! an object of a known type (`Path(p).read_text()`, or `conn` after
//! `conn = sqlite3.connect(...)`) is `Type.method`.
//!
//! A name bound in two different ways (an import and an assignment, two
//! different imports) resolves to nothing: precision before recall.
//!
//! What counts as inside the coroutine: the `async def` body, including
//! comprehensions and lambdas handed to a builtin that calls them at once
//! (`sorted(key=lambda ...)`); not a nested `def` (it runs when called,
//! perhaps in a thread), nor any other lambda (it may be handed to
//! `run_in_executor`), nor a call that is itself awaited.

use super::finding::Analysis;
use super::rules::{Check, Language, Rule, RuleIndex};
use super::tree::{self, MAX_EVAL_DEPTH, Visit, Walk};
use std::collections::{HashMap, HashSet};
use tree_sitter::{Node, Tree};

/// Builtins that call a lambda argument before they return.
const CALLS_AT_ONCE: &[&str] = &[
    "builtins.map",
    "builtins.filter",
    "builtins.sorted",
    "builtins.min",
    "builtins.max",
    "builtins.any",
    "builtins.all",
    "builtins.sum",
    "builtins.list",
    "builtins.tuple",
    "builtins.set",
    "builtins.dict",
    "functools.reduce",
];

/// What a name is bound to in one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    /// A module, function or class, by canonical path (from an import).
    Path(String),
    /// An object of a known type.
    Instance(&'static str),
    /// An undecorated `async def` of this file.
    AsyncDef,
    /// An undecorated module-level `def` whose every `return` gives an
    /// object of this known type (`def db(): return sqlite3.connect(..)`).
    Returns(&'static str),
    /// Anything else: a parameter, an untyped value, a def, a class.
    Other,
}

/// What an expression evaluates to, as far as the tool can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Path(String),
    Instance(&'static str),
    Coroutine,
    /// A function of this file known to return this type.
    Returns(&'static str),
    Unknown,
}

#[derive(Debug, Default)]
struct Scope {
    names: HashMap<String, Binding>,
    globals: HashSet<String>,
    /// Modules of `from M import *` (module scope only).
    stars: Vec<String>,
}

impl Scope {
    fn bind(&mut self, name: &str, binding: Binding) {
        match self.names.get_mut(name) {
            None => {
                self.names.insert(name.to_string(), binding);
            }
            Some(old) if *old == binding => {}
            Some(old) => *old = Binding::Other,
        }
    }
}

/// The methods of one class, for `self.method()` calls.
#[derive(Debug, Default)]
struct ClassInfo {
    async_methods: HashSet<String>,
    other_methods: HashSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Function,
    Class,
}

struct Analyzer<'t, 's> {
    /// The source, the async function being walked and the depth (statements
    /// and expressions deeper than its limit are not walked: they go to
    /// `too_deep`), and what was found.
    walk: Walk<'t, 's>,
    index: &'static RuleIndex,
    not_awaited: &'static Rule,
    scopes: Vec<Scope>,
    qualname: Vec<(String, PartKind)>,
    classes: Vec<ClassInfo>,
}

/// Every blocking call inside async code in a parsed Python file, and the
/// nodes nested deeper than `max_depth` (not looked into).
pub(crate) fn analyze<'t>(
    tree: &'t Tree,
    source: &[u8],
    async_at: &[usize],
    max_depth: usize,
) -> Analysis<'t> {
    let index = RuleIndex::get();
    let Some(not_awaited) = super::rules::RULES
        .iter()
        .find(|rule| rule.language == Language::Python && rule.check == Check::NotAwaited)
    else {
        return Analysis::default();
    };
    let mut analyzer = Analyzer {
        walk: Walk::new(source, async_at, max_depth),
        index,
        not_awaited,
        scopes: Vec::new(),
        qualname: Vec::new(),
        classes: Vec::new(),
    };
    let root = tree.root_node();
    analyzer.scopes.push(Scope::default());
    analyzer.collect(root);
    tree::walk_children(&mut analyzer, root);
    analyzer.walk.out
}

impl<'t, 's> Visit<'t, 's> for Analyzer<'t, 's> {
    fn state(&mut self) -> &mut Walk<'t, 's> {
        &mut self.walk
    }

    fn check(&mut self, node: Node<'t>, kind: &str) {
        match kind {
            "call" => self.check_call(node),
            "expression_statement" => self.check_statement(node),
            _ => {}
        }
    }

    fn visit(&mut self, node: Node<'t>, kind: &str) -> bool {
        match kind {
            "function_definition" => self.function(node),
            "class_definition" => self.class(node),
            "lambda" => self.lambda(node),
            "comment" | "integer" | "float" => {}
            _ => return true,
        }
        false
    }
}

impl<'t> Analyzer<'t, '_> {
    // ---- bindings ----

    /// Records the bindings of one scope body (module or function), in
    /// source order, into the innermost scope. Nested defs and classes bind
    /// their name only; their bodies are other scopes.
    fn collect(&mut self, node: Node<'t>) {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            self.collect_statement(child);
        }
    }

    fn collect_statement(&mut self, node: Node<'t>) {
        // Past the limit the node is reported too deep: a binding missed
        // there could be a shadowing one.
        if self.walk.enter(node) {
            self.collect_statement_inner(node);
            self.walk.leave();
        }
    }

    fn collect_statement_inner(&mut self, node: Node<'t>) {
        match node.kind() {
            "import_statement" => self.collect_import(node),
            "import_from_statement" => self.collect_import_from(node),
            "function_definition" => {
                if let Some(name) = node.child_by_field_name("name") {
                    let binding = if is_async(node) {
                        Binding::AsyncDef
                    } else if self.scopes.len() == 1 {
                        self.returned_type(node)
                            .map_or(Binding::Other, Binding::Returns)
                    } else {
                        Binding::Other
                    };
                    let name = self.walk.text(name);
                    self.top().bind(&name, binding);
                }
            }
            "decorated_definition" => {
                // A decorator may turn a coroutine function into anything.
                if let Some(definition) = node.child_by_field_name("definition") {
                    if let Some(name) = definition.child_by_field_name("name") {
                        let name = self.walk.text(name);
                        self.top().bind(&name, Binding::Other);
                    }
                }
            }
            "class_definition" => {
                if let Some(name) = node.child_by_field_name("name") {
                    let name = self.walk.text(name);
                    self.top().bind(&name, Binding::Other);
                }
            }
            "expression_statement" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "assignment" => {
                            self.collect_assignment(child);
                        }
                        "augmented_assignment" => self.collect_augmented(child),
                        "call" => self.collect_setblocking(child),
                        _ => {}
                    }
                }
            }
            "global_statement" => {
                let mut cursor = node.walk();
                let names: Vec<String> = node
                    .named_children(&mut cursor)
                    .filter(|child| child.kind() == "identifier")
                    .map(|child| self.walk.text(child))
                    .collect();
                self.top().globals.extend(names);
            }
            "for_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    self.bind_pattern_other(left);
                }
                self.collect_blocks(node);
            }
            "with_statement" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "with_clause" {
                        let mut items = child.walk();
                        for item in child.named_children(&mut items) {
                            self.collect_with_item(item);
                        }
                    }
                }
                self.collect_blocks(node);
            }
            "if_statement"
            | "while_statement"
            | "try_statement"
            | "elif_clause"
            | "else_clause"
            | "except_clause"
            | "finally_clause"
            | "except_group_clause"
            | "match_statement"
            | "case_clause"
            | "block" => {
                if matches!(node.kind(), "except_clause" | "except_group_clause") {
                    let mut cursor = node.walk();
                    for child in node.named_children(&mut cursor) {
                        if child.kind() == "as_pattern" {
                            if let Some(alias) = child.child_by_field_name("alias") {
                                self.bind_pattern_other(alias);
                            }
                        }
                    }
                }
                self.collect_blocks(node);
            }
            _ => {}
        }
    }

    /// Collects the statements of the blocks and clauses under a compound statement.
    fn collect_blocks(&mut self, node: Node<'t>) {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "block" => self.collect(child),
                "elif_clause"
                | "else_clause"
                | "except_clause"
                | "finally_clause"
                | "except_group_clause"
                | "case_clause" => self.collect_statement(child),
                _ => {}
            }
        }
    }

    fn top(&mut self) -> &mut Scope {
        if self.scopes.is_empty() {
            self.scopes.push(Scope::default());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn collect_import(&mut self, node: Node<'t>) {
        let mut cursor = node.walk();
        for name in node.children_by_field_name("name", &mut cursor) {
            match name.kind() {
                "dotted_name" => {
                    let dotted = self.walk.text(name);
                    let head = dotted.split('.').next().unwrap_or("").to_string();
                    self.top().bind(&head, Binding::Path(head.clone()));
                }
                "aliased_import" => {
                    let Some((path, alias)) = tree::fields(name, "name", "alias") else {
                        continue;
                    };
                    let path = self.walk.text(path);
                    let alias = self.walk.text(alias);
                    self.top().bind(&alias, Binding::Path(path));
                }
                _ => {}
            }
        }
    }

    fn collect_import_from(&mut self, node: Node<'t>) {
        let module = node
            .child_by_field_name("module_name")
            .filter(|module| module.kind() == "dotted_name")
            .map(|module| self.walk.text(module));
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if child.kind() == "wildcard_import" {
                if let Some(module) = &module {
                    let module = module.clone();
                    self.top().stars.push(module);
                }
            }
        }
        let mut cursor = node.walk();
        for name in node.children_by_field_name("name", &mut cursor) {
            let (imported, bound) = match name.kind() {
                "dotted_name" => (self.walk.text(name), self.walk.text(name)),
                "aliased_import" => {
                    let Some((path, alias)) = tree::fields(name, "name", "alias") else {
                        continue;
                    };
                    (self.walk.text(path), self.walk.text(alias))
                }
                _ => continue,
            };
            // Relative imports (`from . import x`) never name a library.
            let binding = match &module {
                Some(module) => Binding::Path(format!("{module}.{imported}")),
                None => Binding::Other,
            };
            self.top().bind(&bound, binding);
        }
    }

    /// `a = b = value`, `x: T = value`, `x: T`: binds each plain-name target.
    fn collect_assignment(&mut self, node: Node<'t>) -> Option<Binding> {
        let right = node.child_by_field_name("right");
        let binding = match right {
            Some(right) if right.kind() == "assignment" => self.collect_assignment(right),
            Some(right) if right.kind() == "none" => None,
            Some(right) => Some(match self.eval(right) {
                Value::Instance(kind) => Binding::Instance(kind),
                Value::Coroutine => Binding::AsyncDef,
                _ => Binding::Other,
            }),
            None => None,
        };
        let annotated = node
            .child_by_field_name("type")
            .and_then(|annotation| self.annotation_type(annotation))
            .map(Binding::Instance);
        let binding = match (annotated, binding) {
            (Some(annotated), _) => Some(annotated),
            (None, binding) => binding,
        };
        if let Some(left) = node.child_by_field_name("left") {
            match (left.kind(), &binding) {
                ("identifier", Some(binding)) => {
                    let name = self.walk.text(left);
                    self.top().bind(&name, binding.clone());
                }
                ("identifier", None) => {}
                ("pattern_list" | "tuple_pattern", _) => self.bind_unpacked(left, right),
                _ => self.bind_pattern_other(left),
            }
        }
        binding
    }

    /// `a, b = Path(x), Path(y)`: each name gets its own value's type.
    fn bind_unpacked(&mut self, left: Node<'t>, right: Option<Node<'t>>) {
        let targets = tree::named_children(left);
        let values = match right {
            Some(right) if matches!(right.kind(), "expression_list" | "tuple") => {
                tree::named_children(right)
            }
            _ => Vec::new(),
        };
        let paired = values.len() == targets.len()
            && values.iter().all(|value| value.kind() != "list_splat");
        for (at, target) in targets.iter().enumerate() {
            let kind = paired
                .then(|| match self.eval(values[at]) {
                    Value::Instance(kind) => Some(kind),
                    _ => None,
                })
                .flatten();
            match (target.kind(), kind) {
                ("identifier", Some(kind)) => {
                    let name = self.walk.text(*target);
                    self.top().bind(&name, Binding::Instance(kind));
                }
                _ => self.bind_pattern_other(*target),
            }
        }
    }

    fn collect_augmented(&mut self, node: Node<'t>) {
        let Some(left) = node.child_by_field_name("left") else {
            return;
        };
        if left.kind() != "identifier" {
            return;
        }
        let operator = node
            .child_by_field_name("operator")
            .map(|op| self.walk.text(op))
            .unwrap_or_default();
        let name = self.walk.text(left);
        let keeps_path =
            operator == "/=" && self.top().names.get(&name) == Some(&Binding::Instance(PATH_TYPE));
        if !keeps_path {
            self.top().bind(&name, Binding::Other);
        }
    }

    /// `sock.setblocking(False)`: the socket no longer blocks, so its type is forgotten.
    fn collect_setblocking(&mut self, call: Node<'t>) {
        let Some(function) = tree::field_of_kind(call, "function", "attribute") else {
            return;
        };
        let Some((object, attribute)) = tree::fields(function, "object", "attribute") else {
            return;
        };
        if object.kind() == "identifier" && self.walk.text(attribute) == "setblocking" {
            let name = self.walk.text(object);
            self.top().bind(&name, Binding::Other);
        }
    }

    fn collect_with_item(&mut self, item: Node<'t>) {
        let Some(value) = tree::field_of_kind(item, "value", "as_pattern") else {
            return;
        };
        let (Some(expression), Some(alias)) =
            (value.named_child(0), value.child_by_field_name("alias"))
        else {
            return;
        };
        let target = alias.named_child(0).unwrap_or(alias);
        if target.kind() == "identifier" {
            let binding = match self.eval(expression) {
                Value::Instance(kind) => Binding::Instance(kind),
                _ => Binding::Other,
            };
            let name = self.walk.text(target);
            self.top().bind(&name, binding);
        } else {
            self.bind_pattern_other(target);
        }
    }

    /// Binds every name in a target pattern to [`Binding::Other`].
    fn bind_pattern_other(&mut self, node: Node<'t>) {
        if !self.walk.enter(node) {
            return;
        }
        match node.kind() {
            "identifier" => {
                let name = self.walk.text(node);
                self.top().bind(&name, Binding::Other);
            }
            "attribute" | "subscript" => {}
            _ => {
                for child in tree::named_children(node) {
                    self.bind_pattern_other(child);
                }
            }
        }
        self.walk.leave();
    }

    /// Parameters: annotated ones with a known type are typed, the rest
    /// [`Binding::Other`], but for pytest's `tmp_path` fixture (always a
    /// `pathlib.Path`).
    fn collect_parameters(&mut self, parameters: Node<'t>) {
        for parameter in tree::named_children(parameters) {
            match parameter.kind() {
                "identifier" if self.walk.str(parameter) == "tmp_path" => {
                    self.top().bind("tmp_path", Binding::Instance(PATH_TYPE));
                }
                "identifier" => self.bind_pattern_other(parameter),
                "typed_parameter" | "typed_default_parameter" => {
                    let name = parameter
                        .child_by_field_name("name")
                        .or_else(|| parameter.named_child(0));
                    let annotated = parameter
                        .child_by_field_name("type")
                        .and_then(|annotation| self.annotation_type(annotation));
                    if let Some(name) = name {
                        if name.kind() == "identifier" {
                            let binding = annotated.map_or(Binding::Other, Binding::Instance);
                            let name = self.walk.text(name);
                            self.top().bind(&name, binding);
                        } else {
                            self.bind_pattern_other(name);
                        }
                    }
                }
                "default_parameter" => {
                    if let Some(name) = parameter.child_by_field_name("name") {
                        self.bind_pattern_other(name);
                    }
                }
                _ => self.bind_pattern_other(parameter),
            }
        }
    }

    /// The known type an annotation names (`Path`, `pathlib.Path`), also
    /// when it may be None: `Path | None`, `Optional[Path]`, `Union[Path, None]`.
    fn annotation_type(&self, annotation: Node<'_>) -> Option<&'static str> {
        self.annotation_type_depth(annotation, 0)
    }

    fn annotation_type_depth(&self, node: Node<'_>, depth: usize) -> Option<&'static str> {
        if depth > MAX_EVAL_DEPTH {
            return None;
        }
        let inner = |node: Node<'_>| self.annotation_type_depth(node, depth + 1);
        // The one part that is not `None`, when all others are.
        let one_of = |parts: Vec<Node<'_>>| {
            let mut kept = parts.into_iter().filter(|part| !is_none(*part));
            let only = kept.next()?;
            if kept.next().is_some() {
                return None;
            }
            inner(only)
        };
        match node.kind() {
            "type" | "type_parameter" if node.named_child_count() == 1 => {
                inner(node.named_child(0)?)
            }
            "binary_operator" => {
                let is_bar = node
                    .child_by_field_name("operator")
                    .is_some_and(|op| op.kind() == "|");
                let (left, right) = tree::fields(node, "left", "right")?;
                if is_bar {
                    one_of(vec![left, right])
                } else {
                    None
                }
            }
            "union_type" => one_of(tree::named_children(node)),
            "generic_type" => {
                let children = tree::named_children(node);
                let (head, parameters) = (children.first()?, children.get(1)?);
                if !self.is_optional_form(*head) || parameters.kind() != "type_parameter" {
                    return None;
                }
                one_of(tree::named_children(*parameters))
            }
            "subscript" => {
                if !self.is_optional_form(node.child_by_field_name("value")?) {
                    return None;
                }
                let mut cursor = node.walk();
                one_of(
                    node.children_by_field_name("subscript", &mut cursor)
                        .collect(),
                )
            }
            _ => match self.eval(node) {
                Value::Path(path) => self.index.known_type(Language::Python, &path),
                _ => None,
            },
        }
    }

    /// `Optional`, `Union` (from typing or typing_extensions).
    fn is_optional_form(&self, node: Node<'_>) -> bool {
        matches!(self.eval(node), Value::Path(path) if OPTIONAL.contains(&path.as_str()))
    }

    /// The known type every `return` of a sync `def` gives, if there is one.
    fn returned_type(&mut self, definition: Node<'t>) -> Option<&'static str> {
        let body = definition.child_by_field_name("body")?;
        let mut returns = Vec::new();
        returned_values(body, &mut returns, 0);
        if returns.is_empty() || returns.iter().any(Option::is_none) {
            return None;
        }
        // Evaluated in the function's own scope (`conn = connect(); return conn`).
        self.scopes.push(Scope::default());
        if let Some(parameters) = definition.child_by_field_name("parameters") {
            self.collect_parameters(parameters);
        }
        self.collect(body);
        let mut kinds = returns
            .iter()
            .flatten()
            .map(|value| match self.eval(*value) {
                Value::Instance(kind) => Some(kind),
                _ => None,
            });
        let first = kinds.next().flatten();
        let same = kinds.all(|kind| kind == first);
        self.scopes.pop();
        first.filter(|_| same)
    }

    // ---- evaluation ----

    fn lookup(&self, name: &str) -> Value {
        let mut module_only = false;
        for (depth, scope) in self.scopes.iter().enumerate().rev() {
            if module_only && depth != 0 {
                continue;
            }
            if depth != 0 && scope.globals.contains(name) {
                module_only = true;
                continue;
            }
            if let Some(binding) = scope.names.get(name) {
                return match binding {
                    Binding::Path(path) => Value::Path(path.clone()),
                    Binding::Instance(kind) => Value::Instance(kind),
                    Binding::AsyncDef => Value::Coroutine,
                    Binding::Returns(kind) => Value::Returns(kind),
                    Binding::Other => Value::Unknown,
                };
            }
        }
        if let Some(module) = self.scopes.first() {
            for star in &module.stars {
                let path = format!("{star}.{name}");
                if self.index.is_known_name(Language::Python, &path) {
                    return Value::Path(path);
                }
            }
        }
        Value::Path(format!("builtins.{name}"))
    }

    fn eval(&self, node: Node<'_>) -> Value {
        self.eval_depth(node, 0)
    }

    fn eval_depth(&self, node: Node<'_>, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::Unknown;
        }
        match node.kind() {
            "identifier" => self.lookup(&self.walk.str(node)),
            "attribute" => {
                let Some((object, attribute)) = tree::fields(node, "object", "attribute") else {
                    return Value::Unknown;
                };
                let attribute = self.walk.str(attribute);
                match self.eval_depth(object, depth + 1) {
                    Value::Path(path) => Value::Path(format!("{path}.{attribute}")),
                    Value::Instance(kind) => PROPERTIES
                        .iter()
                        .find(|(owner, name, _)| *owner == kind && *name == attribute)
                        .map_or_else(
                            || Value::Path(format!("{kind}.{attribute}")),
                            |(_, _, gives)| Value::Instance(gives),
                        ),
                    _ => Value::Unknown,
                }
            }
            "call" => {
                let Some(function) = node.child_by_field_name("function") else {
                    return Value::Unknown;
                };
                match self.eval_depth(function, depth + 1) {
                    Value::Path(path) => self
                        .index
                        .produces(Language::Python, &path)
                        .map_or(Value::Unknown, Value::Instance),
                    Value::Returns(kind) => Value::Instance(kind),
                    // Only path-likes have `joinpath` (pathlib, zipfile.Path,
                    // importlib.resources): `x.joinpath("a")` is one.
                    Value::Unknown
                        if function.kind() == "attribute"
                            && function
                                .child_by_field_name("attribute")
                                .is_some_and(|name| self.walk.str(name) == "joinpath") =>
                    {
                        Value::Instance(PATH_TYPE)
                    }
                    _ => Value::Unknown,
                }
            }
            "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => self.eval_depth(inner, depth + 1),
                None => Value::Unknown,
            },
            "binary_operator" => {
                let is_slash = node
                    .child_by_field_name("operator")
                    .is_some_and(|op| op.kind() == "/");
                let Some((left, right)) = tree::fields(node, "left", "right") else {
                    return Value::Unknown;
                };
                if !is_slash {
                    return Value::Unknown;
                }
                // `p / "name"`: a Path when `p` is one, and also when `p` is
                // unknown but the right side is a string: `/` with a string
                // is a path join (pathlib's, or another path-like's; str and
                // numbers have none).
                match self.eval_depth(left, depth + 1) {
                    Value::Instance(PATH_TYPE) => Value::Instance(PATH_TYPE),
                    Value::Unknown if right.kind() == "string" => Value::Instance(PATH_TYPE),
                    _ => Value::Unknown,
                }
            }
            _ => Value::Unknown,
        }
    }

    // ---- the walk ----

    fn qualified(&self, name: &str) -> String {
        let mut out = String::new();
        for (part, kind) in &self.qualname {
            out.push_str(part);
            out.push('.');
            if *kind == PartKind::Function {
                out.push_str("<locals>.");
            }
        }
        out.push_str(name);
        out
    }

    fn function(&mut self, node: Node<'t>) {
        // Defaults and annotations run in the enclosing scope.
        if let Some(parameters) = node.child_by_field_name("parameters") {
            tree::walk_children(self, parameters);
        }
        let Some(body) = node.child_by_field_name("body") else {
            return;
        };
        let name = self.walk.field_text(node, "name");
        let qualified = self.qualified(&name);
        self.scopes.push(Scope::default());
        if let Some(parameters) = node.child_by_field_name("parameters") {
            self.collect_parameters(parameters);
        }
        self.collect(body);
        let inner = is_async(node).then(|| qualified.clone());
        let outer = std::mem::replace(&mut self.walk.context, inner);
        self.qualname.push((name, PartKind::Function));
        tree::walk(self, body);
        self.qualname.pop();
        self.walk.context = outer;
        self.scopes.pop();
    }

    fn class(&mut self, node: Node<'t>) {
        let name = self.walk.field_text(node, "name");
        let mut info = ClassInfo::default();
        if let Some(body) = node.child_by_field_name("body") {
            let mut cursor = body.walk();
            for statement in body.named_children(&mut cursor) {
                let (definition, decorated) = match statement.kind() {
                    "function_definition" => (statement, false),
                    "decorated_definition" => match statement.child_by_field_name("definition") {
                        Some(definition) => (definition, true),
                        None => continue,
                    },
                    _ => continue,
                };
                let Some(method) = definition.child_by_field_name("name") else {
                    continue;
                };
                let method = self.walk.text(method);
                if is_async(definition) && !decorated {
                    info.async_methods.insert(method);
                } else {
                    info.other_methods.insert(method);
                }
            }
        }
        self.classes.push(info);
        self.qualname.push((name, PartKind::Class));
        tree::walk_children(self, node);
        self.qualname.pop();
        self.classes.pop();
    }

    fn lambda(&mut self, node: Node<'t>) {
        let inline = self.walk.context.is_some() && self.called_at_once(node);
        self.scopes.push(Scope::default());
        if let Some(parameters) = node.child_by_field_name("parameters") {
            self.collect_parameters(parameters);
        }
        let outer = if inline {
            self.walk.context.clone()
        } else {
            self.walk.context.take()
        };
        if let Some(body) = node.child_by_field_name("body") {
            tree::walk(self, body);
        }
        self.walk.context = outer;
        self.scopes.pop();
    }

    /// Whether a lambda is an argument of a builtin that calls it right away.
    fn called_at_once(&self, lambda: Node<'_>) -> bool {
        let mut parent = lambda.parent();
        if parent.is_some_and(|p| p.kind() == "keyword_argument") {
            parent = parent.and_then(|p| p.parent());
        }
        let Some(arguments) = parent.filter(|p| p.kind() == "argument_list") else {
            return false;
        };
        let Some(function) = arguments
            .parent()
            .and_then(|call| call.child_by_field_name("function"))
        else {
            return false;
        };
        matches!(self.eval(function), Value::Path(path) if CALLS_AT_ONCE.contains(&path.as_str()))
    }

    fn check_call(&mut self, call: Node<'t>) {
        if call.parent().is_some_and(|parent| parent.kind() == "await") {
            return;
        }
        let Some(function) = call.child_by_field_name("function") else {
            return;
        };
        let resolved = self.eval(function);
        let mut found = match &resolved {
            Value::Path(path) => self
                .index
                .rule_for_call(Language::Python, path)
                .map(|rule| (rule, path.clone())),
            _ => None,
        };
        if found.is_none() && function.kind() == "attribute" && self.has_path_keyword(call) {
            if let Some(attribute) = function.child_by_field_name("attribute") {
                let method = self.walk.text(attribute);
                let path = format!("{PATH_TYPE}.{method}");
                found = self
                    .index
                    .rule_for_call(Language::Python, &path)
                    .map(|rule| (rule, format!("*.{method}")));
            }
        }
        if found.is_none() && function.kind() == "attribute" && self.opens_with_a_mode(call) {
            let rule = self
                .index
                .rule_for_call(Language::Python, "pathlib.Path.open");
            found = rule.map(|rule| (rule, "*.open".to_string()));
        }
        if found.is_none() && function.kind() == "attribute" && !self.own_method(function) {
            if let Some(attribute) = function.child_by_field_name("attribute") {
                let method = self.walk.text(attribute);
                found = self
                    .index
                    .rule_for_method(Language::Python, &method)
                    .map(|rule| (rule, format!("*.{method}")));
            }
        }
        let Some((rule, resolved)) = found else {
            return;
        };
        if rule.check != Check::Call || self.exempt_by_arguments(call, rule) {
            return;
        }
        let on_instance = self.on_instance(function);
        self.walk
            .hit(call, function, resolved, rule, None, on_instance);
    }

    /// Whether an argument names what makes this call not wait (`WNOHANG`,
    /// `fileobj=`, an `io.BytesIO(..)`): see [`Rule::unless_args`].
    fn exempt_by_arguments(&self, call: Node<'_>, rule: &Rule) -> bool {
        if rule.unless_args.is_empty() {
            return false;
        }
        let Some(arguments) = call.child_by_field_name("arguments") else {
            return false;
        };
        let named = |node: Option<Node<'_>>| {
            node.is_some_and(|node| rule.unless_args.contains(&self.walk.str(node).as_ref()))
        };
        fn last_name(node: Node<'_>) -> Option<Node<'_>> {
            match node.kind() {
                "identifier" => Some(node),
                "attribute" => node.child_by_field_name("attribute"),
                _ => None,
            }
        }
        // An object of a type so named (`buf` after `buf = io.BytesIO()`).
        let typed = |node: Option<Node<'_>>| {
            node.is_some_and(|node| match self.eval(node) {
                Value::Instance(kind) => {
                    let last = kind.rsplit('.').next().unwrap_or(kind);
                    rule.unless_args.contains(&last)
                }
                _ => false,
            })
        };
        let mut cursor = arguments.walk();
        arguments
            .named_children(&mut cursor)
            .any(|argument| match argument.kind() {
                "keyword_argument" => {
                    named(argument.child_by_field_name("name"))
                        || typed(argument.child_by_field_name("value"))
                }
                "call" => named(argument.child_by_field_name("function").and_then(last_name)),
                _ => named(last_name(argument)) || typed(Some(argument)),
            })
    }

    /// A statement that is only a call to a coroutine function: never awaited.
    fn check_statement(&mut self, statement: Node<'t>) {
        if statement.named_child_count() != 1 {
            return;
        }
        let Some(call) = statement.named_child(0).filter(|c| c.kind() == "call") else {
            return;
        };
        let Some(function) = call.child_by_field_name("function") else {
            return;
        };
        let resolved = match self.eval(function) {
            Value::Path(path) => match self.index.rule_for_call(Language::Python, &path) {
                Some(rule) if rule.check == Check::NotAwaited => Some(path),
                _ => None,
            },
            Value::Coroutine => Some(self.walk.text(function)),
            _ => self.own_coroutine_method(function),
        };
        if let Some(resolved) = resolved {
            let rule = self.not_awaited;
            let on_instance = self.on_instance(function);
            self.walk
                .hit(call, function, resolved, rule, None, on_instance);
        }
    }

    /// `x.unlink(missing_ok=True)`, `x.mkdir(parents=True)`,
    /// `x.touch(exist_ok=True)`: keywords only pathlib's methods take.
    fn has_path_keyword(&self, call: Node<'_>) -> bool {
        let Some(function) = call.child_by_field_name("function") else {
            return false;
        };
        let Some(method) = function.child_by_field_name("attribute") else {
            return false;
        };
        let method = self.walk.str(method);
        if self.own_method(function) {
            return false;
        }
        let Some(arguments) = call.child_by_field_name("arguments") else {
            return false;
        };
        let mut cursor = arguments.walk();
        arguments.named_children(&mut cursor).any(|argument| {
            let keyword = argument
                .child_by_field_name("name")
                .filter(|_| argument.kind() == "keyword_argument")
                .map(|name| self.walk.str(name));
            keyword
                .is_some_and(|keyword| PATH_KEYWORDS.contains(&(method.as_ref(), keyword.as_ref())))
        })
    }

    /// `x.open("rb")`: a method `open` whose first argument is a literal file
    /// mode opens a file, whatever `x` is (a Path from a helper, a fixture).
    fn opens_with_a_mode(&self, call: Node<'_>) -> bool {
        let Some(function) = call.child_by_field_name("function") else {
            return false;
        };
        let named_open = function
            .child_by_field_name("attribute")
            .is_some_and(|attribute| self.walk.str(attribute) == "open");
        if !named_open || self.own_method(function) {
            return false;
        }
        let first = call
            .child_by_field_name("arguments")
            .and_then(|arguments| arguments.named_child(0));
        let Some(first) = first.filter(|first| first.kind() == "string") else {
            return false;
        };
        let text = self.walk.str(first);
        let mode = text.trim_matches(|c| c == '"' || c == '\'');
        !mode.is_empty()
            && mode.len() <= 3
            && mode.len() + 2 == text.len()
            && mode
                .chars()
                .all(|c| matches!(c, 'r' | 'w' | 'a' | 'x' | 'b' | 't' | '+'))
            && mode.chars().any(|c| matches!(c, 'r' | 'w' | 'a' | 'x'))
    }

    /// `self.name` where the enclosing class defines a method `name`: the
    /// class's own, whatever it does, not a library's of the same name.
    fn own_method(&self, function: Node<'_>) -> bool {
        let Some((object, attribute)) = tree::fields(function, "object", "attribute") else {
            return false;
        };
        if object.kind() != "identifier" || self.walk.str(object) != "self" {
            return false;
        }
        let method = self.walk.str(attribute);
        self.classes.last().is_some_and(|class| {
            class.async_methods.contains(method.as_ref())
                || class.other_methods.contains(method.as_ref())
        })
    }

    /// `self.name` where the enclosing class defines `async def name` (and no other `name`).
    fn own_coroutine_method(&self, function: Node<'_>) -> Option<String> {
        if function.kind() != "attribute" {
            return None;
        }
        let (object, attribute) = tree::fields(function, "object", "attribute")?;
        if object.kind() != "identifier" || self.walk.str(object) != "self" {
            return None;
        }
        let class = self.classes.last()?;
        let method = self.walk.text(attribute);
        (class.async_methods.contains(&method) && !class.other_methods.contains(&method))
            .then(|| format!("self.{method}"))
    }

    /// Whether `callee` is a method of an object of a known type (not a
    /// module's function): see [`super::finding::Hit::on_instance`].
    fn on_instance(&self, callee: Node<'_>) -> bool {
        callee.kind() == "attribute"
            && callee
                .child_by_field_name("object")
                .is_some_and(|object| matches!(self.eval(object), Value::Instance(_)))
    }
}

const PATH_TYPE: &str = "pathlib.Path";

/// Keyword arguments that only pathlib's method of that name takes.
const PATH_KEYWORDS: &[(&str, &str)] = &[
    ("unlink", "missing_ok"),
    ("mkdir", "parents"),
    ("mkdir", "exist_ok"),
    ("touch", "exist_ok"),
];

/// Attributes (not calls) that give an object of a known type.
const PROPERTIES: &[(&str, &str, &str)] = &[(PATH_TYPE, "parent", PATH_TYPE)];

/// `typing` forms that say "this type, or None".
const OPTIONAL: &[&str] = &[
    "typing.Optional",
    "typing_extensions.Optional",
    "typing.Union",
    "typing_extensions.Union",
];

fn is_none(node: Node<'_>) -> bool {
    match node.kind() {
        "none" => true,
        "type" => node.named_child(0).is_some_and(is_none),
        _ => false,
    }
}

/// The values of the `return` statements of a function body (`None` for a
/// bare `return`), not those of nested functions, classes or lambdas.
fn returned_values<'t>(node: Node<'t>, out: &mut Vec<Option<Node<'t>>>, depth: usize) {
    if depth > MAX_EVAL_DEPTH {
        out.push(None);
        return;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "return_statement" => out.push(child.named_child(0)),
            "function_definition" | "class_definition" | "lambda" | "decorated_definition" => {}
            // `yield` makes a generator: not the value returned.
            "yield" => out.push(None),
            _ => returned_values(child, out, depth + 1),
        }
    }
}

fn is_async(definition: Node<'_>) -> bool {
    let mut cursor = definition.walk();
    definition
        .children(&mut cursor)
        .take_while(|child| child.kind() != "def")
        .any(|child| child.kind() == "async")
}

#[cfg(test)]
mod tests {
    use crate::blocking::rules::Language;
    use crate::blocking::scan::testing::{self, scan};

    fn found(text: &str) -> Vec<(u64, String)> {
        testing::found(Language::Python, text)
    }

    #[test]
    fn an_optional_import_set_to_none_still_resolves() {
        let text = "try:\n    import requests\nexcept ImportError:\n    requests = None\n\nasync def f():\n    requests.get('u')\n";
        assert_eq!(found(text), [(7, "requests.get".to_string())]);
    }

    #[test]
    fn a_name_imported_two_ways_resolves_to_nothing() {
        let text = "import sys\nif sys.version_info > (3,):\n    from time import sleep\nelse:\n    from asyncio import sleep\n\nasync def f():\n    sleep(1)\n";
        assert_eq!(found(text), []);
    }

    #[test]
    fn global_names_skip_the_local_binding() {
        let text = "import time\n\nasync def f():\n    global time\n    time.sleep(1)\n\nasync def g(time):\n    time.sleep(1)\n";
        assert_eq!(found(text), [(5, "time.sleep".to_string())]);
    }

    #[test]
    fn function_names_follow_python_qualnames() {
        let text = "import time\nclass A:\n    async def m(self):\n        async def inner():\n            time.sleep(1)\n        await inner()\n";
        assert_eq!(
            scan(Language::Python, text).findings[0].function,
            "A.m.<locals>.inner"
        );
    }

    #[test]
    fn a_helper_types_its_result_only_when_every_return_agrees() {
        let text = "import sqlite3\ndef one():\n    return sqlite3.connect('a')\ndef gen():\n    yield sqlite3.connect('a')\n    return sqlite3.connect('a')\ndef mixed(f):\n    if f:\n        return sqlite3.connect('a')\n    return other()\n@decorated\ndef wrapped():\n    return sqlite3.connect('a')\nasync def f():\n    one().commit()\n    gen().commit()\n    mixed(1).commit()\n    wrapped().commit()\n";
        assert_eq!(found(text), [(15, "sqlite3.Connection.commit".to_string())]);
    }

    #[test]
    fn optional_annotations_keep_their_type_and_unions_of_two_types_do_not() {
        let text = "from pathlib import Path\nfrom typing import Optional, Union\nasync def f(a: Optional[Path], b: Path | None, c: Path | str, d: Union[Path, str], e: None | Path):\n    a.exists(); b.exists(); c.exists(); d.exists(); e.exists()\n";
        let lines: Vec<u64> = found(text).into_iter().map(|(line, _)| line).collect();
        assert_eq!(lines, [4, 4, 4], "a, b and e only");
    }

    #[test]
    fn awaited_calls_and_referenced_functions_are_not_calls() {
        let text = "import time, asyncio\nasync def f(loop):\n    await asyncio.to_thread(time.sleep, 1)\n    await loop.run_in_executor(None, time.sleep, 1)\n    await asyncio.wait_for(asyncio.sleep(1), 2)\n";
        assert_eq!(found(text), []);
    }
}
