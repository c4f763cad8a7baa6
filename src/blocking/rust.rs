//! Rust: blocking calls inside `async fn` bodies, async blocks and async closures.
//!
//! Paths are resolved through the file's `use` declarations (groups, `self`,
//! aliases and globs of modules in the rule table), so `thread::sleep` after
//! `use std::thread;` is `std::thread::sleep`, and `fs::read` after
//! `use tokio::fs;` is `tokio::fs::read` (not a finding). A path whose first
//! segment is not imported is taken as absolute (`std::...`, `reqwest::...`).
//! Method calls resolve through the type of their receiver when the tool
//! knows it: a producer call in the same expression
//! (`Command::new("ls").arg("-l").output()`), or a local binding with one
//! known type (`let mut cmd = Command::new(..)`, `stream: &mut TcpStream`),
//! looking through `?`, `.unwrap()` and `.expect(..)`.
//!
//! Inside the async body, closures passed to a method (`.map(|p| ...)`) run
//! right there and are checked; closures given to a function
//! (`spawn_blocking(|| ...)`, `thread::spawn`), bound to a variable or passed
//! to a method named like a thread hand-off (`spawn`, `block_in_place`, ...)
//! are not, nor are nested `fn` items. Calls that are awaited never match.
//!
//! Limits: macro bodies (`tokio::select!`, `println!`) are token trees to
//! tree-sitter and are not looked into; struct fields have no known type.

use super::finding::Analysis;
use super::rules::{Check, Language, Rule, RuleIndex};
use super::tree::{self, MAX_EVAL_DEPTH, Visit, Walk};
use std::collections::HashMap;
use tree_sitter::{Node, Tree};

/// Methods that hand a closure to another thread (or run it as blocking work).
const HANDOFF_METHODS: &[&str] = &[
    "spawn",
    "spawn_blocking",
    "spawn_scoped",
    "spawn_fifo",
    "spawn_local",
    "block_in_place",
    "install",
    "scope",
    "execute",
    "run",
    "submit",
];

/// Methods that pass the type of their receiver through (`Result<T>` → `T`).
const PASS_THROUGH: &[&str] = &["unwrap", "expect"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    Instance(&'static str),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Path(String),
    Instance(&'static str),
    Unknown,
}

/// The `use` declarations of a file.
#[derive(Debug, Default)]
struct Imports {
    /// Name → full path; `None` when two imports disagree.
    names: HashMap<String, Option<String>>,
    /// Modules of `use m::*`.
    globs: Vec<String>,
}

impl Imports {
    fn bind(&mut self, name: &str, path: String) {
        if name == "_" {
            return;
        }
        match self.names.get_mut(name) {
            None => {
                self.names.insert(name.to_string(), Some(path));
            }
            Some(Some(old)) if *old == path => {}
            Some(old) => *old = None,
        }
    }
}

struct Analyzer<'t, 's> {
    /// The source, the async function or block being walked and the depth
    /// (deeper nodes are not walked: they go to `too_deep`), and what was
    /// found.
    walk: Walk<'t, 's>,
    index: &'static RuleIndex,
    guard_rule: Option<&'static Rule>,
    imports: Imports,
    /// The locals of the innermost `fn` item (closures and blocks flattened in).
    locals: HashMap<String, Local>,
    /// Enclosing modules, impl types, traits and fns, for `function` names.
    qualname: Vec<String>,
}

/// Every blocking call inside async code in a parsed Rust file, and the
/// nodes nested deeper than `max_depth` (not looked into).
pub(crate) fn analyze(
    tree: &Tree,
    source: &[u8],
    async_at: &[usize],
    max_depth: usize,
) -> Analysis {
    let index = RuleIndex::get();
    let guard_rule = super::rules::RULES
        .iter()
        .find(|rule| rule.language == Language::Rust && rule.check == Check::GuardAcrossAwait);
    let mut analyzer = Analyzer {
        walk: Walk::new(source, async_at, max_depth),
        index,
        guard_rule,
        imports: Imports::default(),
        locals: HashMap::new(),
        qualname: Vec::new(),
    };
    let root = tree.root_node();
    analyzer.collect_imports(root);
    tree::walk_children(&mut analyzer, root);
    analyzer.walk.out
}

impl<'t, 's> Visit<'t, 's> for Analyzer<'t, 's> {
    fn state(&mut self) -> &mut Walk<'t, 's> {
        &mut self.walk
    }

    fn check(&mut self, node: Node<'t>, kind: &str) {
        match kind {
            "call_expression" => self.check_call(node),
            "block" => self.check_guards(node),
            _ => {}
        }
    }

    fn visit(&mut self, node: Node<'t>, kind: &str) -> bool {
        match kind {
            "function_item" => self.function(node),
            "closure_expression" => self.closure(node),
            "async_block" => {
                let name = format!("{}{{async block}}", self.prefix());
                let outer = self.walk.context.replace(name);
                tree::walk_children(self, node);
                self.walk.context = outer;
            }
            "impl_item" => {
                let name = node
                    .child_by_field_name("type")
                    .map(|kind| self.type_name(kind))
                    .unwrap_or_default();
                self.nested(node, name);
            }
            "trait_item" | "mod_item" => {
                let name = self.walk.field_text(node, "name");
                self.nested(node, name);
            }
            "macro_invocation" | "line_comment" | "block_comment" | "string_literal"
            | "use_declaration" | "attribute_item" => {}
            _ => return true,
        }
        false
    }
}

impl<'t> Analyzer<'t, '_> {
    // ---- imports ----

    /// Every `use` declaration of the file, in modules and functions too
    /// (not in macro bodies).
    fn collect_imports(&mut self, root: Node<'_>) {
        tree::preorder(root, |node| match node.kind() {
            "use_declaration" => {
                if let Some(argument) = node.child_by_field_name("argument") {
                    self.use_tree(argument, "");
                }
                false
            }
            kind => kind != "macro_invocation",
        });
    }

    fn use_tree(&mut self, node: Node<'_>, prefix: &str) {
        match node.kind() {
            "identifier" | "scoped_identifier" | "crate" | "super" => {
                let Some(path) = self.path_text(node) else {
                    return;
                };
                let full = join(prefix, &path);
                let name = full.rsplit("::").next().unwrap_or(&full).to_string();
                self.imports.bind(&name, full);
            }
            // `use std::io::{self, Read}` binds `io`.
            "self" if !prefix.is_empty() => {
                let name = prefix.rsplit("::").next().unwrap_or(prefix).to_string();
                self.imports.bind(&name, prefix.to_string());
            }
            "use_as_clause" => {
                let Some((path, alias)) = tree::fields(node, "path", "alias") else {
                    return;
                };
                let path = if path.kind() == "self" {
                    Some(String::new())
                } else {
                    self.path_text(path)
                };
                let Some(path) = path else {
                    return;
                };
                let full = join(prefix, &path);
                let alias = self.walk.text(alias);
                self.imports.bind(&alias, full);
            }
            "scoped_use_list" => {
                let Some(inner) = self.prefixed(prefix, node.child_by_field_name("path")) else {
                    return;
                };
                if let Some(list) = node.child_by_field_name("list") {
                    self.use_tree(list, &inner);
                }
            }
            "use_list" => {
                for child in tree::named_children(node) {
                    self.use_tree(child, prefix);
                }
            }
            "use_wildcard" => {
                let Some(module) = self.prefixed(prefix, node.named_child(0)) else {
                    return;
                };
                self.imports.globs.push(module);
            }
            _ => {}
        }
    }

    /// `prefix` joined with the path `path` spells, `prefix` itself without
    /// one; `None` for a path through types (see [`Analyzer::path_text`]).
    fn prefixed(&self, prefix: &str, path: Option<Node<'_>>) -> Option<String> {
        match path {
            Some(path) => Some(join(prefix, &self.path_text(path)?)),
            None => Some(prefix.to_string()),
        }
    }

    /// `a::b::c` as written (a leading `::` dropped); `None` for paths
    /// through types (`<T as Trait>::f`, `Vec::<u8>::new`).
    fn path_text(&self, node: Node<'_>) -> Option<String> {
        match node.kind() {
            "identifier" | "type_identifier" | "crate" | "self" | "super" => {
                Some(self.walk.text(node))
            }
            "scoped_identifier" | "scoped_type_identifier" => {
                let name = self.walk.text(node.child_by_field_name("name")?);
                match node.child_by_field_name("path") {
                    Some(path) => Some(format!("{}::{name}", self.path_text(path)?)),
                    None => Some(name),
                }
            }
            _ => None,
        }
    }

    /// The canonical path of a path expression: its first segment through the imports.
    fn resolve_path(&self, written: &str) -> Option<String> {
        let (head, rest) = match written.split_once("::") {
            Some((head, rest)) => (head, Some(rest)),
            None => (written, None),
        };
        let base = match self.imports.names.get(head) {
            Some(Some(full)) => full.clone(),
            Some(None) => return None,
            None => {
                let from_glob = self.imports.globs.iter().find_map(|module| {
                    let candidate = format!("{module}::{head}");
                    self.index
                        .is_known_name(Language::Rust, &candidate)
                        .then_some(candidate)
                });
                from_glob.unwrap_or_else(|| head.to_string())
            }
        };
        Some(match rest {
            Some(rest) => format!("{base}::{rest}"),
            None => base,
        })
    }

    /// The known type a type annotation names (`&mut Command`, `std::fs::File`).
    fn annotation_type(&self, node: Node<'_>) -> Option<&'static str> {
        match node.kind() {
            "reference_type" => self.annotation_type(node.child_by_field_name("type")?),
            "type_identifier" | "scoped_type_identifier" => {
                let written = self.path_text(node)?;
                let full = self.resolve_path(&written)?;
                self.index.known_type(Language::Rust, &full)
            }
            _ => None,
        }
    }

    // ---- locals ----

    fn bind_local(&mut self, name: String, local: Local) {
        match self.locals.get_mut(&name) {
            None => {
                self.locals.insert(name, local);
            }
            Some(old) if *old == local => {}
            Some(old) => *old = Local::Other,
        }
    }

    fn bind_pattern_other(&mut self, pattern: Node<'t>) {
        if !self.walk.enter(pattern) {
            return;
        }
        if pattern.kind() == "identifier" {
            let name = self.walk.text(pattern);
            self.bind_local(name, Local::Other);
        } else {
            for child in tree::named_children(pattern) {
                // `Some(x)`: the `type` of a tuple-struct pattern is not a binding.
                if child.kind() == "identifier"
                    && pattern.kind() == "tuple_struct_pattern"
                    && pattern.child_by_field_name("type") == Some(child)
                {
                    continue;
                }
                self.bind_pattern_other(child);
            }
        }
        self.walk.leave();
    }

    /// A binding with an optional annotation and an optional value.
    fn bind_typed(
        &mut self,
        pattern: Node<'t>,
        annotation: Option<Node<'_>>,
        value: Option<Node<'_>>,
    ) {
        if pattern.kind() != "identifier" {
            self.bind_pattern_other(pattern);
            return;
        }
        let kind = annotation
            .and_then(|annotation| self.annotation_type(annotation))
            .or_else(|| match value.map(|value| self.eval(value)) {
                Some(Value::Instance(kind)) => Some(kind),
                _ => None,
            });
        let name = self.walk.text(pattern);
        self.bind_local(name, kind.map_or(Local::Other, Local::Instance));
    }

    /// The locals of one `fn` item, in source order (nested `fn` items excluded).
    fn collect_locals(&mut self, function: Node<'t>) {
        self.locals.clear();
        if let Some(parameters) = function.child_by_field_name("parameters") {
            for parameter in tree::named_children(parameters) {
                if parameter.kind() == "parameter"
                    && let Some(pattern) = parameter.child_by_field_name("pattern")
                {
                    self.bind_typed(pattern, parameter.child_by_field_name("type"), None);
                }
            }
        }
        if let Some(body) = function.child_by_field_name("body") {
            self.collect_locals_in(body, 0);
        }
    }

    fn collect_locals_in(&mut self, node: Node<'t>, depth: usize) {
        if depth > self.walk.max_depth {
            // A local missed here could shadow an import: say so.
            self.walk.out.too_deep.push(node.byte_range());
            return;
        }
        match node.kind() {
            "function_item" | "impl_item" | "trait_item" | "mod_item" | "macro_invocation" => {
                return;
            }
            "let_declaration" => {
                // The value is evaluated before the new binding exists.
                if let Some(value) = node.child_by_field_name("value") {
                    self.collect_locals_in(value, depth + 1);
                }
                if let Some(pattern) = node.child_by_field_name("pattern") {
                    self.bind_typed(
                        pattern,
                        node.child_by_field_name("type"),
                        node.child_by_field_name("value"),
                    );
                }
                if let Some(alternative) = node.child_by_field_name("alternative") {
                    self.collect_locals_in(alternative, depth + 1);
                }
                return;
            }
            "closure_parameters" => {
                for parameter in tree::named_children(node) {
                    match parameter.kind() {
                        "parameter" => {
                            if let Some(pattern) = parameter.child_by_field_name("pattern") {
                                self.bind_typed(
                                    pattern,
                                    parameter.child_by_field_name("type"),
                                    None,
                                );
                            }
                        }
                        _ => self.bind_pattern_other(parameter),
                    }
                }
                return;
            }
            "for_expression" | "let_condition" | "match_arm" => {
                if let Some(pattern) = node.child_by_field_name("pattern") {
                    self.bind_pattern_other(pattern);
                }
            }
            _ => {}
        }
        for child in tree::named_children(node) {
            self.collect_locals_in(child, depth + 1);
        }
    }

    // ---- evaluation ----

    fn eval(&self, node: Node<'_>) -> Value {
        self.eval_depth(node, 0)
    }

    fn eval_depth(&self, node: Node<'_>, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::Unknown;
        }
        match node.kind() {
            "identifier" => {
                let name = self.walk.str(node);
                match self.locals.get(name.as_ref()) {
                    Some(Local::Instance(kind)) => Value::Instance(kind),
                    Some(Local::Other) => Value::Unknown,
                    None => self.resolve_path(&name).map_or(Value::Unknown, Value::Path),
                }
            }
            "scoped_identifier" => match self.path_text(node) {
                Some(written) => self
                    .resolve_path(&written)
                    .map_or(Value::Unknown, Value::Path),
                None => Value::Unknown,
            },
            "generic_function" => match node.child_by_field_name("function") {
                Some(function) => self.eval_depth(function, depth + 1),
                None => Value::Unknown,
            },
            "field_expression" => {
                let Some((value, field)) = tree::fields(node, "value", "field") else {
                    return Value::Unknown;
                };
                match self.eval_depth(value, depth + 1) {
                    Value::Instance(kind) => {
                        Value::Path(format!("{kind}::{}", self.walk.str(field)))
                    }
                    _ => Value::Unknown,
                }
            }
            "call_expression" => {
                let Some(function) = node.child_by_field_name("function") else {
                    return Value::Unknown;
                };
                if function.kind() == "field_expression"
                    && let Some((field, value)) = tree::fields(function, "field", "value")
                    && PASS_THROUGH.contains(&self.walk.str(field).as_ref())
                {
                    return match self.eval_depth(value, depth + 1) {
                        Value::Instance(kind) => Value::Instance(kind),
                        _ => Value::Unknown,
                    };
                }
                match self.eval_depth(function, depth + 1) {
                    Value::Path(path) => self
                        .index
                        .produces(Language::Rust, &path)
                        .map_or(Value::Unknown, Value::Instance),
                    _ => Value::Unknown,
                }
            }
            "try_expression" | "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => self.eval_depth(inner, depth + 1),
                None => Value::Unknown,
            },
            "reference_expression" => match node.child_by_field_name("value") {
                Some(inner) => self.eval_depth(inner, depth + 1),
                None => Value::Unknown,
            },
            _ => Value::Unknown,
        }
    }

    // ---- the walk ----

    /// `Type::`, `module::fn::` ... for names of things inside.
    fn prefix(&self) -> String {
        let mut out = String::new();
        for part in &self.qualname {
            out.push_str(part);
            out.push_str("::");
        }
        out
    }

    fn type_name(&self, kind: Node<'_>) -> String {
        match kind.kind() {
            "generic_type" => kind
                .child_by_field_name("type")
                .map(|inner| self.type_name(inner))
                .unwrap_or_default(),
            "scoped_type_identifier" => kind
                .child_by_field_name("name")
                .map(|name| self.walk.text(name))
                .unwrap_or_default(),
            _ => self.walk.text(kind),
        }
    }

    fn nested(&mut self, node: Node<'t>, name: String) {
        self.qualname.push(name);
        let outer = self.walk.context.take();
        tree::walk_children(self, node);
        self.walk.context = outer;
        self.qualname.pop();
    }

    fn function(&mut self, node: Node<'t>) {
        let name = self.walk.field_text(node, "name");
        let qualified = format!("{}{name}", self.prefix());
        let is_async = tree::named_child_of_kind(node, "function_modifiers")
            .is_some_and(|modifiers| tree::has_child(modifiers, "async"));
        let saved_locals = std::mem::take(&mut self.locals);
        self.collect_locals(node);
        let outer = std::mem::replace(&mut self.walk.context, is_async.then_some(qualified));
        self.qualname.push(name);
        if let Some(body) = node.child_by_field_name("body") {
            tree::walk(self, body);
        }
        self.qualname.pop();
        self.walk.context = outer;
        self.locals = saved_locals;
    }

    fn closure(&mut self, node: Node<'t>) {
        let is_async = tree::has_child(node, "async");
        let inner = if is_async {
            Some(format!("{}{{async closure}}", self.prefix()))
        } else if self.walk.context.is_some() && self.runs_in_place(node) {
            self.walk.context.clone()
        } else {
            None
        };
        let outer = std::mem::replace(&mut self.walk.context, inner);
        if let Some(body) = node.child_by_field_name("body") {
            tree::walk(self, body);
        }
        self.walk.context = outer;
    }

    /// Whether a closure is an argument of a method that is not a thread hand-off.
    fn runs_in_place(&self, closure: Node<'_>) -> bool {
        let Some(arguments) = closure.parent().filter(|p| p.kind() == "arguments") else {
            return false;
        };
        let Some(function) = arguments
            .parent()
            .filter(|call| call.kind() == "call_expression")
            .and_then(|call| call.child_by_field_name("function"))
        else {
            return false;
        };
        if function.kind() != "field_expression" {
            return false;
        }
        let Some(method) = function.child_by_field_name("field") else {
            return false;
        };
        let method = self.walk.str(method);
        !HANDOFF_METHODS.contains(&method.as_ref())
            && !method.contains("blocking")
            && !method.contains("thread")
    }

    fn check_call(&mut self, call: Node<'t>) {
        if call
            .parent()
            .is_some_and(|parent| parent.kind() == "await_expression")
        {
            return;
        }
        let Some(function) = call.child_by_field_name("function") else {
            return;
        };
        let mut found = match self.eval(function) {
            Value::Path(path) => self
                .index
                .rule_for_call(Language::Rust, &path)
                .map(|rule| (rule, path)),
            _ => None,
        };
        if found.is_none()
            && function.kind() == "field_expression"
            && let Some(field) = function.child_by_field_name("field")
        {
            let method = self.walk.text(field);
            found = self
                .index
                .rule_for_method(Language::Rust, &method)
                .map(|rule| (rule, format!("*.{method}")));
        }
        let Some((rule, resolved)) = found else {
            return;
        };
        if rule.check != Check::Call {
            return;
        }
        let on_instance = self.on_instance(function);
        self.walk
            .hit(call, function, resolved, rule, None, on_instance);
    }

    // ---- std::sync::Mutex guards across .await ----

    /// `let guard = m.lock().unwrap();` followed, in the same block and
    /// before the guard is dropped or moved, by an `.await` of this future.
    fn check_guards(&mut self, block: Node<'t>) {
        let Some(rule) = self.guard_rule else {
            return;
        };
        let statements = tree::named_children(block);
        for (at, statement) in statements.iter().enumerate() {
            if statement.kind() != "let_declaration" {
                continue;
            }
            let Some((guard, lock_call, lock_callee, resolved)) = self.guard_binding(*statement)
            else {
                continue;
            };
            let mut ended = false;
            let mut awaited = None;
            for later in &statements[at + 1..] {
                self.scan_guard_use(*later, &guard, &mut ended, &mut awaited, 0);
                if ended || awaited.is_some() {
                    break;
                }
            }
            if let Some(line) = awaited {
                let detail = format!("guard `{guard}` is still held at the .await on line {line}");
                let on_instance = self.on_instance(lock_callee);
                self.walk.hit(
                    lock_call,
                    lock_callee,
                    resolved.to_string(),
                    rule,
                    Some(detail),
                    on_instance,
                );
            }
        }
    }

    /// For `let name = x.lock().unwrap()` (or `.expect(..)`, or an RwLock's
    /// `read()` / `write()`): the name, the lock call, its callee and what
    /// it resolves to. Only std's locks return a `Result` to unwrap there.
    fn guard_binding(
        &self,
        statement: Node<'t>,
    ) -> Option<(String, Node<'t>, Node<'t>, &'static str)> {
        let pattern = tree::field_of_kind(statement, "pattern", "identifier")?;
        let value = tree::field_of_kind(statement, "value", "call_expression")?;
        let unwrap = tree::field_of_kind(value, "function", "field_expression")?;
        let unwrap_name = self.walk.str(unwrap.child_by_field_name("field")?);
        if !matches!(unwrap_name.as_ref(), "unwrap" | "expect" | "unwrap_or_else") {
            return None;
        }
        let lock_call = tree::field_of_kind(unwrap, "value", "call_expression")?;
        let lock_callee = tree::field_of_kind(lock_call, "function", "field_expression")?;
        let lock_name = self.walk.str(lock_callee.child_by_field_name("field")?);
        let no_arguments = lock_call
            .child_by_field_name("arguments")
            .is_some_and(|arguments| arguments.named_child_count() == 0);
        let resolved = match lock_name.as_ref() {
            "lock" => "std::sync::Mutex::lock",
            "read" => "std::sync::RwLock::read",
            "write" => "std::sync::RwLock::write",
            _ => return None,
        };
        if !no_arguments {
            return None;
        }
        Some((self.walk.text(pattern), lock_call, lock_callee, resolved))
    }

    /// Walks `node` in source order until the guard ends (dropped or moved)
    /// or an `.await` of this future is reached (its line goes to `awaited`).
    fn scan_guard_use(
        &self,
        node: Node<'_>,
        guard: &str,
        ended: &mut bool,
        awaited: &mut Option<u64>,
        depth: usize,
    ) {
        if *ended || awaited.is_some() || depth > self.walk.max_depth {
            return;
        }
        match node.kind() {
            // Not run by this future (or not now).
            "closure_expression" | "async_block" | "function_item" | "macro_invocation" => {
                return;
            }
            "await_expression" => {
                *awaited = Some(node.end_position().row as u64 + 1);
                return;
            }
            "call_expression" => {
                if let Some(arguments) = node.child_by_field_name("arguments") {
                    let mut cursor = arguments.walk();
                    let moved = arguments.named_children(&mut cursor).any(|argument| {
                        argument.kind() == "identifier" && self.walk.str(argument) == guard
                    });
                    if moved {
                        *ended = true;
                        return;
                    }
                }
            }
            "let_declaration" | "return_expression" => {
                let value = node
                    .child_by_field_name("value")
                    .or_else(|| node.named_child(0));
                if value.is_some_and(|value| {
                    value.kind() == "identifier" && self.walk.str(value) == guard
                }) {
                    *ended = true;
                    return;
                }
            }
            _ => {}
        }
        for child in tree::named_children(node) {
            self.scan_guard_use(child, guard, ended, awaited, depth + 1);
            if *ended || awaited.is_some() {
                return;
            }
        }
    }

    /// Whether `callee` is a method of a value of a known type (not a path
    /// to a function): see [`super::finding::Hit::on_instance`].
    fn on_instance(&self, callee: Node<'_>) -> bool {
        callee.kind() == "field_expression"
            && callee
                .child_by_field_name("value")
                .is_some_and(|value| matches!(self.eval(value), Value::Instance(_)))
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}::{path}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::blocking::rules::Language;
    use crate::blocking::scan::testing;

    fn found(text: &str) -> Vec<(u64, String)> {
        testing::found(Language::Rust, text)
    }

    #[test]
    fn glob_imports_of_known_modules_resolve() {
        let text = "use std::thread::*;\nasync fn f() {\n    sleep(d);\n}\n";
        assert_eq!(found(text), [(3, "std::thread::sleep".to_string())]);
    }

    #[test]
    fn a_name_imported_two_ways_resolves_to_nothing() {
        let text = "mod a { use std::thread::sleep; }\nuse tokio::time::sleep;\nasync fn f() {\n    sleep(d);\n}\n";
        assert_eq!(found(text), []);
    }

    #[test]
    fn a_local_shadows_an_imported_function() {
        let text =
            "use std::thread::sleep;\nasync fn f() {\n    let sleep = |d| d;\n    sleep(d);\n}\n";
        assert_eq!(found(text), []);
    }

    #[test]
    fn parameter_types_type_their_methods() {
        let text = "use std::process::Command;\nasync fn f(cmd: &mut Command, other: &mut tokio::process::Command) {\n    cmd.output();\n    other.output().await;\n}\n";
        assert_eq!(
            found(text),
            [(3, "std::process::Command::output".to_string())]
        );
    }

    #[test]
    fn a_guard_moved_away_ends_before_the_await() {
        let text = "async fn f(m: &std::sync::Mutex<u8>) {\n    let g = m.lock().unwrap();\n    consume(g);\n    x().await;\n}\n";
        assert_eq!(found(text), []);
        let text = "async fn f(m: &std::sync::Mutex<u8>) {\n    let g = m.lock().unwrap();\n    if ready() { x().await; }\n}\n";
        assert_eq!(found(text), [(2, "std::sync::Mutex::lock".to_string())]);
    }
}
