//! Python: blocking calls inside `async def` bodies, on the syntax tree of
//! ruff's parser (`ruff_python_parser`: the parse ruff itself runs, about
//! seven times tree-sitter's speed on real projects, and it recovers from
//! syntax errors with a complete tree around each one).
//!
//! Names are resolved the way Python does (LEGB, without the class scope):
//! each function's own bindings, then the enclosing functions', then the
//! module's (imports with their aliases, `from M import *` for modules in the
//! rule table), then builtins. A call is matched on its canonical path, so
//! `r.get` after `import requests as r` is `requests.get`, and a method call on
//! an object of a known type (`Path(p).read_text()`, or `conn` after
//! `conn = sqlite3.connect(...)`) is `Type.method`.
//!
//! Types also come from annotations (`p: Path | None`), a function's return
//! (its annotation, or what every `return` gives), and, for `self.x`, from
//! the class: what its methods assign to `self.x`, its properties, the
//! returns of its methods, what a base class of the same file knows.
//!
//! A name bound in two different ways (an import and an assignment, two
//! different imports) resolves to nothing: precision before recall. The one
//! exception is `try: import M` / `except ImportError:` (the fallback binds
//! only what the `try` did not).
//!
//! What counts as inside the coroutine: the `async def` body, including
//! comprehensions and lambdas handed to a builtin that calls them at once
//! (`sorted(key=lambda ...)`); not a nested `def` (it runs when called,
//! perhaps in a thread), nor any other lambda (it may be handed to
//! `run_in_executor`), nor a call that is itself awaited or that `async for`
//! / `async with` consumes, nor a coroutine run in a thread (textual's thread
//! workers, mitmproxy's `@concurrent`).
//! Non-blocking forms are not reported: a socket set non-blocking, inside
//! `try: .. except BlockingIOError`, or after `await wait_readable(sock)`;
//! `fetchall()` on what an `await` gave (an async driver's buffered rows).

use super::finding::{Analysis, Hit, may_hold_async};
use super::rules::{Check, Language, Rule, RuleIndex};
use super::tree::MAX_EVAL_DEPTH;
use ruff_python_ast::token::{TokenKind, Tokens};
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, ArgOrKeyword, ExceptHandler, Expr, Operator, Parameters, Stmt};
use ruff_text_size::{Ranged, TextRange};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

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
    /// An undecorated module-level `def` annotated with a known type, or
    /// whose every `return` gives an object of one
    /// (`def db(): return sqlite3.connect(..)`; see [`Analyzer::return_type`]).
    Returns(&'static str),
    /// A method's first parameter: the instance of the class at this index
    /// of [`Analyzer::classes`], whose attributes may be typed.
    SelfObject(usize),
    /// The result of an `await` (or of `async with .. as`): an async
    /// library's object.
    Awaited,
    /// Flag constants (`NUMERIC = socket.AI_NUMERICHOST | ..`), by name.
    Flags(Vec<String>),
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
    /// The instance a method runs on (see [`Binding::SelfObject`]).
    SelfObject(usize),
    /// See [`Binding::Awaited`].
    Awaited,
    /// See [`Binding::Flags`].
    Flags(Vec<String>),
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

/// One class: its methods, for `self.method()` calls, and what is known of
/// its instances, for `self.conn.execute(..)`.
#[derive(Debug, Default)]
struct ClassInfo {
    name: String,
    async_methods: HashSet<String>,
    other_methods: HashSet<String>,
    typed: ClassTypes,
}

/// What is known of a class's instances: the type of each attribute the
/// class (or a base) says something of, and the return type of each
/// method (by annotation, or every `return`); `None` where the sayings are
/// unknown or differ. An opaque class says nothing of any name (a
/// `setattr(self, name, ..)`, a code too deep, a budget spent).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ClassTypes {
    opaque: bool,
    attributes: HashMap<String, Option<&'static str>>,
    returns: HashMap<String, Option<&'static str>>,
}

impl ClassTypes {
    fn opaque() -> ClassTypes {
        ClassTypes {
            opaque: true,
            ..ClassTypes::default()
        }
    }

    /// How many names it holds (what a subclass copies).
    fn len(&self) -> usize {
        self.attributes.len() + self.returns.len()
    }

    /// The same known types (unknowns aside: they evaluate as no saying).
    fn knows_the_same(&self, other: &ClassTypes) -> bool {
        fn same(
            one: &HashMap<String, Option<&'static str>>,
            other: &HashMap<String, Option<&'static str>>,
        ) -> bool {
            let known = |map: &HashMap<String, Option<&'static str>>| {
                map.values().filter(|kind| kind.is_some()).count()
            };
            known(one) == known(other)
                && one
                    .iter()
                    .filter(|(_, kind)| kind.is_some())
                    .all(|(name, kind)| other.get(name) == Some(kind))
        }
        self.opaque == other.opaque
            && same(&self.attributes, &other.attributes)
            && same(&self.returns, &other.returns)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Function,
    Class,
}

struct Analyzer<'s> {
    /// The file's bytes, which ranges point into.
    source: &'s [u8],
    /// The file's tokens (what tells a receiver's end from a comment).
    tokens: &'s Tokens,
    /// Where the keyword `async` may start (see [`may_hold_async`]).
    async_at: &'s [usize],
    /// The async function whose body is being walked (its name as
    /// reported: `A.m`, `f.<locals>.g`), if any.
    context: Option<String>,
    /// How many statements and expressions the walk is inside of; deeper
    /// than `max_depth` they are not walked but go to `out.too_deep`.
    depth: usize,
    max_depth: usize,
    out: Analysis,
    index: &'static RuleIndex,
    not_awaited: &'static Rule,
    scopes: Vec<Scope>,
    qualname: Vec<(String, PartKind)>,
    classes: Vec<ClassInfo>,
    /// See [`ThreadWorkers`].
    thread_workers: HashSet<(String, String)>,
    /// How many `try` bodies with an `except BlockingIOError` the walk is
    /// in, within the current function.
    nonblocking: usize,
    /// The receivers (as written) of the method calls the current async
    /// function awaits, when it may call a rule's `receiver_names` method
    /// (see [`awaited_receivers`]): `session` after `await session.execute(..)`
    /// is an async session.
    awaited_receivers: HashSet<String>,
    /// Whether the file holds one of the methods rules match only on named
    /// receivers ([`RuleIndex::named_receiver_methods`]) at all (one search
    /// a file, not one a function).
    named_methods_in_file: bool,
    /// What is known of the module-level classes typed so far, by name
    /// (see [`Analyzer::is_module_class`]): their subclasses inherit it.
    class_types: HashMap<String, ClassTypes>,
    /// The module's classes, to type a base class that the walk skips (it
    /// holds no `async`), and those of them being typed.
    module_classes: HashMap<&'s str, &'s ast::StmtClassDef>,
    typing: HashSet<String>,
    /// How many more names classes may copy from their bases.
    inheritance_budget: usize,
}

/// Every blocking call inside async code in a parsed Python module, and the
/// parts nested deeper than `max_depth` (not looked into).
pub(crate) fn analyze<'s>(
    module: &'s [Stmt],
    tokens: &'s Tokens,
    source: &'s [u8],
    async_at: &'s [usize],
    max_depth: usize,
) -> Analysis {
    let index = RuleIndex::get();
    let Some(not_awaited) = super::rules::RULES
        .iter()
        .find(|rule| rule.language == Language::Python && rule.check == Check::NotAwaited)
    else {
        return Analysis::default();
    };
    let mut analyzer = Analyzer {
        source,
        tokens,
        async_at,
        context: None,
        depth: 0,
        max_depth,
        out: Analysis::default(),
        index,
        not_awaited,
        scopes: vec![Scope::default()],
        qualname: Vec::new(),
        classes: Vec::new(),
        thread_workers: HashSet::new(),
        nonblocking: 0,
        awaited_receivers: HashSet::new(),
        named_methods_in_file: holds_any(source, index.named_receiver_methods()),
        class_types: HashMap::new(),
        module_classes: module_class_definitions(module),
        typing: HashSet::new(),
        inheritance_budget: INHERITANCE_BUDGET,
    };
    if memchr::memmem::find(source, b"run_worker").is_some() {
        let mut workers = ThreadWorkers::default();
        workers.visit_body(module);
        analyzer.thread_workers = workers.found;
    }
    analyzer.collect(module);
    analyzer.visit_body(module);
    analyzer.out
}

fn bytes(range: TextRange) -> Range<usize> {
    range.start().to_usize()..range.end().to_usize()
}

impl<'a> Visitor<'a> for Analyzer<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !self.enter(stmt.range()) {
            return;
        }
        match stmt {
            Stmt::FunctionDef(definition) => self.function(definition),
            Stmt::ClassDef(class) => self.class(class),
            Stmt::Expr(statement) => {
                if self.context.is_some() {
                    self.check_statement(statement);
                }
                visitor::walk_stmt(self, stmt);
            }
            // `async for x in f()` / `async with f()`: `f` gives an async
            // iterator or context manager, an async library's call.
            Stmt::For(each) if each.is_async => {
                self.visit_expr(&each.target);
                self.visit_awaited(&each.iter);
                self.visit_body(&each.body);
                self.visit_body(&each.orelse);
            }
            Stmt::With(with) if with.is_async => {
                for item in &with.items {
                    self.visit_awaited(&item.context_expr);
                    if let Some(target) = &item.optional_vars {
                        self.visit_expr(target);
                    }
                }
                self.visit_body(&with.body);
            }
            // `try: sock.connect(..)` / `except BlockingIOError:`: the socket
            // is a non-blocking one.
            Stmt::Try(attempt) if attempt.handlers.iter().any(catches_blocking_io_error) => {
                self.nonblocking += 1;
                self.visit_body(&attempt.body);
                self.nonblocking -= 1;
                for handler in &attempt.handlers {
                    self.visit_except_handler(handler);
                }
                self.visit_body(&attempt.orelse);
                self.visit_body(&attempt.finalbody);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.leave();
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if !self.enter(expr.range()) {
            return;
        }
        match expr {
            Expr::Call(call) => {
                if self.context.is_some() {
                    self.check_call(call);
                }
                self.walk_call(call);
            }
            // An awaited call is not a blocking one (`await loop.sock_recv(..)`).
            Expr::Await(awaited) => self.visit_awaited(&awaited.value),
            Expr::Lambda(lambda) => self.lambda(lambda, false),
            _ => visitor::walk_expr(self, expr),
        }
        self.leave();
    }

    fn visit_comprehension(&mut self, comprehension: &'a ast::Comprehension) {
        if !comprehension.is_async {
            return visitor::walk_comprehension(self, comprehension);
        }
        self.visit_expr(&comprehension.target);
        self.visit_awaited(&comprehension.iter);
        for condition in &comprehension.ifs {
            self.visit_expr(condition);
        }
    }
}

impl<'a> Analyzer<'_> {
    /// What is awaited, iterated by `async for` or entered by `async with`:
    /// an async library's call, walked but not checked.
    fn visit_awaited(&mut self, source: &'a Expr) {
        match source {
            Expr::Call(call) => {
                if self.enter(call.range()) {
                    self.walk_call(call);
                    self.leave();
                }
            }
            other => self.visit_expr(other),
        }
    }

    // ---- depth ----

    /// One level deeper into the walk: false when there is nothing to do
    /// there (outside async code, with no `async` inside), or, with the
    /// node recorded as too deep, past the limit; otherwise
    /// [`Analyzer::leave`] must follow.
    fn enter(&mut self, range: TextRange) -> bool {
        let (start, end) = (range.start().to_usize(), range.end().to_usize());
        if self.context.is_none() && !may_hold_async(self.async_at, start, end) {
            return false;
        }
        self.enter_any(range)
    }

    /// [`Analyzer::enter`] for the passes that must see everything (bindings).
    fn enter_any(&mut self, range: TextRange) -> bool {
        if self.depth > self.max_depth {
            self.out.too_deep.push(bytes(range));
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn text(&self, range: TextRange) -> String {
        super::finding::text_at(&bytes(range), self.source).into_owned()
    }

    // ---- bindings ----

    /// Records the bindings of one scope body (module or function), in
    /// source order, into the innermost scope. Nested defs and classes bind
    /// their name only; their bodies are other scopes.
    fn collect(&mut self, body: &[Stmt]) {
        for statement in body {
            // Past the limit the statement is reported too deep: a binding
            // missed there could be a shadowing one.
            if self.enter_any(statement.range()) {
                self.collect_statement(statement);
                self.leave();
            }
        }
    }

    fn collect_statement(&mut self, statement: &Stmt) {
        match statement {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let path = alias.name.id.as_str();
                    match &alias.asname {
                        Some(bound) => self.top().bind(bound, Binding::Path(path.to_string())),
                        None => {
                            let head = path.split('.').next().unwrap_or("");
                            self.top().bind(head, Binding::Path(head.to_string()));
                        }
                    }
                }
            }
            Stmt::ImportFrom(import) => self.collect_import_from(import),
            Stmt::FunctionDef(definition) => {
                // A decorator may turn a coroutine function into anything.
                let binding = if !definition.decorator_list.is_empty() {
                    Binding::Other
                } else if definition.is_async {
                    Binding::AsyncDef
                } else if self.scopes.len() == 1 {
                    self.returned_type(definition)
                        .map_or(Binding::Other, Binding::Returns)
                } else {
                    Binding::Other
                };
                self.top().bind(&definition.name, binding);
            }
            Stmt::ClassDef(class) => self.top().bind(&class.name, Binding::Other),
            Stmt::Assign(assign) => {
                let binding = self.value_binding(&assign.value);
                for target in &assign.targets {
                    self.bind_target(target, binding.as_ref(), Some(&assign.value));
                }
            }
            Stmt::AnnAssign(assign) => {
                let annotated = self
                    .annotation_type(&assign.annotation)
                    .map(Binding::Instance);
                let binding = annotated.or_else(|| {
                    assign
                        .value
                        .as_deref()
                        .and_then(|value| self.value_binding(value))
                });
                self.bind_target(&assign.target, binding.as_ref(), assign.value.as_deref());
            }
            Stmt::AugAssign(assign) => {
                if let Expr::Name(name) = assign.target.as_ref() {
                    let old = self.top().names.get(name.id.as_str());
                    // `p /= "a"` keeps a Path; `FLAGS |= X` keeps the flags it had.
                    let keeps = match old {
                        Some(Binding::Instance(PATH_TYPE)) => assign.op == Operator::Div,
                        Some(Binding::Flags(_)) => assign.op == Operator::BitOr,
                        _ => false,
                    };
                    if !keeps {
                        self.top().bind(&name.id, Binding::Other);
                    }
                }
            }
            Stmt::Expr(statement) => match statement.value.as_ref() {
                Expr::Call(call) => self.collect_setblocking(call),
                Expr::Await(awaited) => {
                    if let Expr::Call(call) = awaited.value.as_ref() {
                        self.collect_readiness_wait(call);
                    }
                }
                _ => {}
            },
            Stmt::Global(global) => {
                let names = global.names.iter().map(|name| name.id.to_string());
                let names: Vec<String> = names.collect();
                self.top().globals.extend(names);
            }
            Stmt::For(each) => {
                match (each.target.as_ref(), self.iterated_type(&each.iter)) {
                    (Expr::Name(name), Some(kind)) if !each.is_async => {
                        self.top().bind(&name.id, Binding::Instance(kind));
                    }
                    _ => self.bind_pattern_other(&each.target),
                }
                self.collect(&each.body);
                self.collect(&each.orelse);
            }
            Stmt::With(with) => {
                for item in &with.items {
                    self.collect_with_item(item, with.is_async);
                }
                self.collect(&with.body);
            }
            Stmt::If(branch) => {
                self.collect(&branch.body);
                for clause in &branch.elif_else_clauses {
                    self.collect(&clause.body);
                }
            }
            Stmt::While(each) => {
                self.collect(&each.body);
                self.collect(&each.orelse);
            }
            Stmt::Try(attempt) => {
                self.collect(&attempt.body);
                for handler in &attempt.handlers {
                    let ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(name) = &handler.name {
                        self.top().bind(name, Binding::Other);
                    }
                    if catches_import_error(handler) {
                        self.collect_fallback(&attempt.body, &handler.body);
                    } else {
                        self.collect(&handler.body);
                    }
                }
                self.collect(&attempt.orelse);
                self.collect(&attempt.finalbody);
            }
            Stmt::Match(choice) => {
                for case in &choice.cases {
                    self.collect(&case.body);
                }
            }
            _ => {}
        }
    }

    /// `try: import sqlite3` / `except ImportError: from pysqlite2 import
    /// dbapi2 as sqlite3`: a name the `try` imports keeps that binding (the
    /// module that is there when it can be); the fallback binds the rest.
    fn collect_fallback(&mut self, attempt: &[Stmt], fallback: &[Stmt]) {
        let mut imported = HashSet::new();
        for statement in attempt {
            let names = match statement {
                Stmt::Import(import) => &import.names,
                Stmt::ImportFrom(import) => &import.names,
                _ => continue,
            };
            for alias in names {
                let bound = alias.asname.as_ref().unwrap_or(&alias.name).id.as_str();
                imported.insert(bound.split('.').next().unwrap_or(bound).to_string());
            }
        }
        self.scopes.push(Scope::default());
        self.collect(fallback);
        let Some(bound) = self.scopes.pop() else {
            return;
        };
        let top = self.top();
        top.globals.extend(bound.globals);
        top.stars.extend(bound.stars);
        for (name, binding) in bound.names {
            if !imported.contains(&name) {
                top.bind(&name, binding);
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

    fn collect_import_from(&mut self, import: &ast::StmtImportFrom) {
        // Relative imports (`from . import x`) never name a library.
        let module = import
            .module
            .as_ref()
            .filter(|_| import.level == 0)
            .map(|module| module.id.to_string());
        for alias in &import.names {
            let imported = alias.name.id.as_str();
            if imported == "*" {
                if let Some(module) = &module {
                    let module = module.clone();
                    self.top().stars.push(module);
                }
                continue;
            }
            let bound = alias
                .asname
                .as_ref()
                .map_or(imported, |name| name.id.as_str());
            let binding = match &module {
                Some(module) => Binding::Path(format!("{module}.{imported}")),
                None => Binding::Other,
            };
            self.top().bind(bound, binding);
        }
    }

    /// What assigning `value` binds a plain name to; `None` for `None`
    /// (an optional import set to None keeps its other binding).
    fn value_binding(&self, value: &Expr) -> Option<Binding> {
        if value.is_none_literal_expr() {
            return None;
        }
        if value.is_await_expr() {
            return Some(Binding::Awaited);
        }
        Some(match (self.eval(value), flag_constants(value)) {
            (Value::Instance(kind), _) => Binding::Instance(kind),
            (_, Some(names)) => Binding::Flags(names),
            (Value::Coroutine, None) => Binding::AsyncDef,
            _ => Binding::Other,
        })
    }

    /// One target of an assignment: a plain name gets `binding` (nothing
    /// when there is none), a tuple is unpacked, anything else binds its
    /// names to [`Binding::Other`].
    fn bind_target(&mut self, target: &Expr, binding: Option<&Binding>, value: Option<&Expr>) {
        match target {
            Expr::Name(name) => {
                if let Some(binding) = binding {
                    self.top().bind(&name.id, binding.clone());
                }
            }
            Expr::Tuple(targets) => self.bind_unpacked(&targets.elts, value),
            _ => self.bind_pattern_other(target),
        }
    }

    /// `a, b = Path(x), Path(y)`: each name gets its own value's type.
    /// Also `conn, addr = sock.accept()`: see [`UNPACKED`].
    fn bind_unpacked(&mut self, targets: &[Expr], value: Option<&Expr>) {
        let values: &[Expr] = match value {
            Some(Expr::Tuple(values)) => &values.elts,
            _ => &[],
        };
        let paired = values.len() == targets.len() && !values.iter().any(Expr::is_starred_expr);
        let returned = match value {
            Some(Expr::Call(call)) => match self.eval(&call.func) {
                Value::Path(path) => UNPACKED
                    .iter()
                    .find(|(producer, _)| *producer == path)
                    .map(|(_, kinds)| *kinds),
                _ => None,
            },
            _ => None,
        };
        let returned = returned.filter(|kinds| kinds.len() == targets.len());
        for (at, target) in targets.iter().enumerate() {
            let kind = match returned {
                Some(kinds) => kinds[at],
                None => paired.then(|| self.value_type(&values[at])).flatten(),
            };
            match (target, kind) {
                (Expr::Name(name), Some(kind)) => {
                    self.top().bind(&name.id, Binding::Instance(kind));
                }
                _ => self.bind_pattern_other(target),
            }
        }
    }

    /// The type of what a `for` loop over `iterable` gets, one by one:
    /// Paths from `p.iterdir()`, `p.glob(..)`, `p.rglob(..)` on a Path,
    /// `os.DirEntry`s from `os.scandir(..)` (also through `with os.scandir(..) as it`).
    fn iterated_type(&self, iterable: &Expr) -> Option<&'static str> {
        if self.eval(iterable) == Value::Instance(SCANDIR_ITERATOR) {
            return Some(DIR_ENTRY);
        }
        let Expr::Call(call) = iterable else {
            return None;
        };
        let Expr::Attribute(method) = call.func.as_ref() else {
            return None;
        };
        (matches!(method.attr.as_str(), "iterdir" | "glob" | "rglob")
            && self.eval(&method.value) == Value::Instance(PATH_TYPE))
        .then_some(PATH_TYPE)
    }

    /// `await wait_readable(sock)` (trio, anyio; also `wait_writable`): the
    /// code waits for the socket's readiness itself, so its calls do not
    /// block (it is a non-blocking socket, or one with data waiting): its
    /// type is forgotten.
    fn collect_readiness_wait(&mut self, call: &ast::ExprCall) {
        let name = match call.func.as_ref() {
            Expr::Name(name) => name.id.as_str(),
            Expr::Attribute(attribute) => attribute.attr.as_str(),
            _ => return,
        };
        if READINESS_WAITS.contains(&name)
            && let Some(Expr::Name(object)) = call.arguments.args.first()
        {
            self.top().bind(&object.id, Binding::Other);
        }
    }

    /// `sock.setblocking(False)` (anything but `True`): the socket may no
    /// longer block, so its type is forgotten.
    fn collect_setblocking(&mut self, call: &ast::ExprCall) {
        let Expr::Attribute(function) = call.func.as_ref() else {
            return;
        };
        if let Expr::Name(object) = function.value.as_ref()
            && function.attr.as_str() == "setblocking"
            && !sets_blocking(call)
        {
            self.top().bind(&object.id, Binding::Other);
        }
    }

    fn collect_with_item(&mut self, item: &ast::WithItem, is_async: bool) {
        let Some(target) = item.optional_vars.as_deref() else {
            return;
        };
        if let Expr::Name(name) = target {
            let binding = match self.eval(&item.context_expr) {
                _ if is_async => Binding::Awaited,
                Value::Instance(kind) => Binding::Instance(kind),
                _ => Binding::Other,
            };
            self.top().bind(&name.id, binding);
        } else {
            self.bind_pattern_other(target);
        }
    }

    /// Binds every name in a target pattern to [`Binding::Other`].
    fn bind_pattern_other(&mut self, target: &Expr) {
        if !self.enter_any(target.range()) {
            return;
        }
        match target {
            Expr::Name(name) => self.top().bind(&name.id, Binding::Other),
            Expr::Starred(starred) => self.bind_pattern_other(&starred.value),
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                for element in elts {
                    self.bind_pattern_other(element);
                }
            }
            _ => {}
        }
        self.leave();
    }

    /// Parameters: annotated ones with a known type are typed, the rest
    /// [`Binding::Other`], but for pytest's `tmp_path` fixture (always a
    /// `pathlib.Path`).
    fn collect_parameters(&mut self, parameters: &Parameters) {
        let plain = parameters
            .posonlyargs
            .iter()
            .chain(&parameters.args)
            .chain(&parameters.kwonlyargs);
        for parameter in plain {
            let name = parameter.parameter.name.id.as_str();
            let binding = match parameter.parameter.annotation.as_deref() {
                Some(annotation) => self
                    .annotation_type(annotation)
                    .map_or(Binding::Other, Binding::Instance),
                None if name == "tmp_path" && parameter.default.is_none() => {
                    Binding::Instance(PATH_TYPE)
                }
                None => Binding::Other,
            };
            self.top().bind(name, binding);
        }
        for variadic in [&parameters.vararg, &parameters.kwarg]
            .into_iter()
            .flatten()
        {
            self.top().bind(&variadic.name, Binding::Other);
        }
    }

    /// The known type an annotation names (`Path`, `pathlib.Path`), also
    /// when it may be None: `Path | None`, `Optional[Path]`, `Union[Path, None]`.
    fn annotation_type(&self, annotation: &Expr) -> Option<&'static str> {
        self.annotation_type_depth(annotation, 0)
    }

    fn annotation_type_depth(&self, annotation: &Expr, depth: usize) -> Option<&'static str> {
        if depth > MAX_EVAL_DEPTH {
            return None;
        }
        // The one part that is not `None`, when all others are.
        let one_of = |parts: &[&Expr]| {
            let mut kept = parts.iter().filter(|part| !part.is_none_literal_expr());
            let only = kept.next()?;
            if kept.next().is_some() {
                return None;
            }
            self.annotation_type_depth(only, depth + 1)
        };
        match annotation {
            Expr::BinOp(union) if union.op == Operator::BitOr => {
                one_of(&[&union.left, &union.right])
            }
            Expr::Subscript(generic) => {
                if !self.is_optional_form(&generic.value) {
                    return None;
                }
                match generic.slice.as_ref() {
                    Expr::Tuple(parts) => one_of(&parts.elts.iter().collect::<Vec<_>>()),
                    only => one_of(&[only]),
                }
            }
            _ => match self.eval(annotation) {
                Value::Path(path) => self.index.known_type(Language::Python, &path),
                _ => None,
            },
        }
    }

    /// `Optional`, `Union` (from typing or typing_extensions).
    fn is_optional_form(&self, form: &Expr) -> bool {
        matches!(self.eval(form), Value::Path(path) if OPTIONAL.contains(&path.as_str()))
    }

    /// The known type a module-level sync `def` returns, in a scope of its
    /// own (see [`Analyzer::return_type`]); without an annotation or a
    /// `return` value, no scope is built.
    fn returned_type(&mut self, definition: &ast::StmtFunctionDef) -> Option<&'static str> {
        let annotation = self.trusted_return_annotation(definition);
        let values = annotation.is_none().then(|| Returns::of(&definition.body));
        if values
            .as_ref()
            .is_some_and(|values| values.is_empty() || values.iter().any(Option::is_none))
        {
            return None;
        }
        // Evaluated in the function's own scope (`conn = connect(); return conn`).
        self.scopes.push(Scope::default());
        self.collect_parameters(&definition.parameters);
        self.collect(&definition.body);
        let kind = match (annotation, values) {
            (Some(annotation), _) => self.annotation_type(annotation),
            (None, Some(values)) => self.one_type(&values),
            (None, None) => None,
        };
        self.scopes.pop();
        kind
    }

    /// The known type all of `values` have (a `None` in them, an unknown
    /// value: none), evaluated in the scope on top.
    fn one_type(&self, values: &[Option<&Expr>]) -> Option<&'static str> {
        if values.is_empty() || values.iter().any(Option::is_none) {
            return None;
        }
        let mut kinds = values.iter().flatten().map(|value| self.value_type(value));
        let first = kinds.next().flatten();
        let same = kinds.all(|kind| kind == first);
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
                    Binding::SelfObject(class) => Value::SelfObject(*class),
                    Binding::Awaited => Value::Awaited,
                    Binding::Flags(names) => Value::Flags(names.clone()),
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

    fn eval(&self, expr: &Expr) -> Value {
        self.eval_depth(expr, 0)
    }

    fn eval_depth(&self, expr: &Expr, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::Unknown;
        }
        match expr {
            Expr::Name(name) => self.lookup(&name.id),
            // `(p := base / "a").mkdir()`: the value's.
            Expr::Named(named) => self.eval_depth(&named.value, depth + 1),
            Expr::Attribute(attribute) => {
                let name = attribute.attr.as_str();
                match self.eval_depth(&attribute.value, depth + 1) {
                    Value::Path(path) => Value::Path(format!("{path}.{name}")),
                    Value::Instance(kind) => PROPERTIES
                        .iter()
                        .find(|(owner, property, _)| *owner == kind && *property == name)
                        .map_or_else(
                            || Value::Path(format!("{kind}.{name}")),
                            |(_, _, gives)| Value::Instance(gives),
                        ),
                    Value::SelfObject(class) => match self.classes.get(class) {
                        Some(class) if !class.typed.opaque => {
                            let typed = &class.typed;
                            match (typed.attributes.get(name), typed.returns.get(name)) {
                                (Some(Some(AWAITED)), _) => Value::Awaited,
                                (Some(Some(kind)), _) => Value::Instance(kind),
                                (_, Some(Some(kind))) => Value::Returns(kind),
                                _ => Value::Unknown,
                            }
                        }
                        _ => Value::Unknown,
                    },
                    _ => Value::Unknown,
                }
            }
            Expr::Call(call) => match self.eval_depth(&call.func, depth + 1) {
                Value::Path(path) => self
                    .index
                    .produces(Language::Python, &path)
                    .map_or(Value::Unknown, Value::Instance),
                Value::Returns(kind) => Value::Instance(kind),
                // Only path-likes have `joinpath` (pathlib, zipfile.Path,
                // importlib.resources): `x.joinpath("a")` is one.
                Value::Unknown if method_name(&call.func) == Some("joinpath") => {
                    Value::Instance(PATH_TYPE)
                }
                _ => Value::Unknown,
            },
            Expr::BinOp(join) if join.op == Operator::Div => {
                // `p / "name"`: a Path when `p` is one, and also when `p` is
                // unknown but the right side is a string: `/` with a string
                // is a path join (pathlib's, or another path-like's; str and
                // numbers have none).
                // And `"a" / p` or `x / p` with `p` a Path: str has no `/`,
                // so the Path's own (reflected) one joins.
                match self.eval_depth(&join.left, depth + 1) {
                    Value::Instance(PATH_TYPE) => Value::Instance(PATH_TYPE),
                    Value::Unknown | Value::SelfObject(_)
                        if join.right.is_string_literal_expr() || join.right.is_f_string_expr() =>
                    {
                        Value::Instance(PATH_TYPE)
                    }
                    Value::Unknown | Value::Path(_)
                        if self.eval_depth(&join.right, depth + 1)
                            == Value::Instance(PATH_TYPE) =>
                    {
                        Value::Instance(PATH_TYPE)
                    }
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

    fn function(&mut self, definition: &'a ast::StmtFunctionDef) {
        // Decorators, defaults and annotations run in the enclosing scope.
        for decorator in &definition.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        visitor::walk_parameters(self, &definition.parameters);
        let name = definition.name.id.as_str();
        let qualified = self.qualified(name);
        self.push_function_scope(definition);
        let coroutine = definition.is_async && !self.runs_in_thread(definition);
        let inner = coroutine.then_some(qualified);
        let awaited = match &inner {
            Some(_) if self.may_call_named_methods(definition) => {
                awaited_receivers(&definition.body, self.source)
            }
            _ => HashSet::new(),
        };
        let outer = std::mem::replace(&mut self.context, inner);
        let outer_nonblocking = std::mem::take(&mut self.nonblocking);
        let outer_awaited = std::mem::replace(&mut self.awaited_receivers, awaited);
        self.qualname.push((name.to_string(), PartKind::Function));
        self.visit_body(&definition.body);
        self.qualname.pop();
        self.context = outer;
        self.nonblocking = outer_nonblocking;
        self.awaited_receivers = outer_awaited;
        self.scopes.pop();
    }

    /// Whether the function's text holds `.commit` or `.rollback` (the
    /// methods rules match only on named receivers), worth finding what it
    /// awaits.
    fn may_call_named_methods(&self, definition: &ast::StmtFunctionDef) -> bool {
        if !self.named_methods_in_file {
            return false;
        }
        let text = self.source.get(bytes(definition.range)).unwrap_or_default();
        holds_any(text, self.index.named_receiver_methods())
    }

    /// A function's own scope: its parameters (a method's first one is the
    /// instance, [`Binding::SelfObject`]) and the bindings of its body.
    fn push_function_scope(&mut self, definition: &ast::StmtFunctionDef) {
        self.scopes.push(Scope::default());
        self.collect_parameters(&definition.parameters);
        if let Some(class) = self.method_of(definition)
            && let Some(first) = first_parameter(&definition.parameters)
        {
            let name = first.name.id.to_string();
            self.top().names.insert(name, Binding::SelfObject(class));
        }
        self.collect(&definition.body);
    }

    /// The index in [`Analyzer::classes`] of the class whose body defines
    /// `definition`, unless it is a staticmethod or a classmethod (whose
    /// first parameter is not the instance).
    fn method_of(&self, definition: &ast::StmtFunctionDef) -> Option<usize> {
        if self.qualname.last().map(|(_, kind)| *kind) != Some(PartKind::Class) {
            return None;
        }
        let unbound = &["builtins.staticmethod", "builtins.classmethod"];
        (!self.decorated_with(definition, unbound))
            .then(|| self.classes.len().checked_sub(1))
            .flatten()
    }

    /// An `async def` that runs in a thread of its own, with its own event
    /// loop, so its blocking calls stall no one else's: textual's thread
    /// workers, `@work(thread=True)` or `self.run_worker(self.name, thread=True)`,
    /// and mitmproxy's `@concurrent` hooks.
    fn runs_in_thread(&self, definition: &ast::StmtFunctionDef) -> bool {
        let worker = definition.decorator_list.iter().any(|decorator| {
            matches!(&decorator.expression, Expr::Call(call) if has_thread_true(call)
                && matches!(self.eval(&call.func),
                    Value::Path(path) if THREAD_WORKER_DECORATORS.contains(&path.as_str())))
        });
        let decorated = worker || self.decorated_with(definition, THREAD_DECORATORS);
        let owner = match self.method_of(definition) {
            Some(class) => self.classes[class].name.as_str(),
            None => "",
        };
        decorated
            || self
                .thread_workers
                .contains(&(owner.to_string(), definition.name.id.to_string()))
    }

    /// Types the attributes of the class's instances and the returns of its
    /// methods (see [`ClassTypes`]): `self.x = value` in its methods when
    /// every value but `None` is of one known type, a `@property` or a sync
    /// method annotated with a known type or whose every return is of one, a
    /// class-level annotation (`x: Path`); a base class of the module says
    /// what it knows, and any saying that differs makes the name unknown
    /// (also a method or class attribute of the same name, a `setattr`, an
    /// assignment in a classmethod or a nested function). A name typed from
    /// another (`self.cur = self.conn.cursor()`) is typed a round later;
    /// rounds stop when the known types settle, or after [`ATTRIBUTE_ROUNDS`].
    fn type_attributes(&mut self, class: &ast::StmtClassDef) {
        let Some(at) = self.classes.len().checked_sub(1) else {
            return;
        };
        let mut names = Vec::new();
        for base in class.bases() {
            if let Expr::Name(name) = base
                && self.is_module_class(name.id.as_str())
                && self.type_class(name.id.as_str())
            {
                names.push(name.id.as_str());
            }
        }
        let bases = || names.iter().filter_map(|name| self.class_types.get(*name));
        // Each class holds what its bases say, so a long chain of classes
        // holds it many times over: past a budget a class types nothing.
        let inherited: usize = bases().map(ClassTypes::len).sum();
        if bases().any(|base| base.opaque) || inherited > self.inheritance_budget {
            self.classes[at].typed = ClassTypes::opaque();
            return;
        }
        self.inheritance_budget -= inherited;
        let bases: Vec<ClassTypes> = bases().cloned().collect();
        let statements = class_statements(&class.body);
        // The passes below collect bindings again: what they find too deep
        // the walk itself reports.
        let reported = self.out.too_deep.len();
        for _ in 0..ATTRIBUTE_ROUNDS {
            let mut attributes = Sayings::default();
            let mut returns = Sayings::default();
            for base in &bases {
                attributes.inherit(&base.attributes);
                returns.inherit(&base.returns);
            }
            for statement in &statements {
                match statement {
                    Stmt::AnnAssign(assign) => {
                        if let Expr::Name(name) = assign.target.as_ref() {
                            let kind = self.annotation_type(&assign.annotation).or_else(|| {
                                let value = assign.value.as_deref();
                                value.and_then(|value| self.value_type(value))
                            });
                            attributes.note(&name.id, kind, assign.value.as_deref());
                            returns.note(&name.id, None, None);
                        }
                    }
                    Stmt::Assign(assign) => {
                        let kind = self.value_type(&assign.value);
                        for target in &assign.targets {
                            if let Expr::Name(name) = target {
                                attributes.note(&name.id, kind, Some(&assign.value));
                                returns.note(&name.id, None, None);
                            }
                        }
                    }
                    Stmt::FunctionDef(definition) => {
                        self.type_from_method(definition, &mut attributes, &mut returns);
                    }
                    _ => {}
                }
            }
            let typed = ClassTypes {
                opaque: attributes.opaque,
                attributes: attributes.said,
                returns: returns.said,
            };
            // Only known types change what the next round evaluates.
            let settled = typed.knows_the_same(&self.classes[at].typed);
            self.classes[at].typed = typed;
            if settled {
                break;
            }
        }
        self.out.too_deep.truncate(reported);
    }

    /// A class defined once at the module's top level, and not bound any
    /// other way there (see [`module_class_definitions`]), nor shadowed by
    /// a name of the function being walked.
    fn is_module_class(&self, name: &str) -> bool {
        self.module_classes.contains_key(name)
            && !self.scopes[1.min(self.scopes.len())..]
                .iter()
                .any(|scope| scope.names.contains_key(name))
    }

    /// Whether the module-level class `name` is typed (in
    /// [`Analyzer::class_types`]): when walked, or now for one the walk
    /// skips. Its bases that the walk skipped too are typed first, farthest
    /// first, from a list rather than by recursion (a chain of thousands of
    /// classes would overflow the stack); a class that is its own base says
    /// nothing.
    fn type_class(&mut self, name: &str) -> bool {
        if self.class_types.contains_key(name) {
            return true;
        }
        let module_classes = &self.module_classes;
        let untyped = |name: &str| {
            module_classes
                .get(name)
                .copied()
                .filter(|_| !self.class_types.contains_key(name) && !self.typing.contains(name))
        };
        // Depth first, each class after its bases.
        let mut order: Vec<&ast::StmtClassDef> = Vec::new();
        let mut seen = HashSet::new();
        let Some(first) = untyped(name) else {
            return false;
        };
        let mut stack = vec![(first, false)];
        while let Some((class, bases_done)) = stack.pop() {
            if bases_done {
                order.push(class);
                continue;
            }
            if !seen.insert(class.name.id.as_str()) {
                continue;
            }
            stack.push((class, true));
            for base in class.bases() {
                if let Expr::Name(base) = base
                    && let Some(base) = untyped(base.id.as_str())
                {
                    stack.push((base, false));
                }
            }
        }
        // All of them are being typed: a base met again (a cycle) says
        // nothing, rather than start another round of this.
        let names = order.iter().map(|class| class.name.id.to_string());
        self.typing.extend(names);
        // A module-level class sees the module's names only.
        let inner_scopes = self.scopes.split_off(1.min(self.scopes.len()));
        let qualname = std::mem::take(&mut self.qualname);
        for class in order {
            let class_name = class.name.id.to_string();
            self.qualname.push((class_name.clone(), PartKind::Class));
            self.classes.push(ClassInfo {
                name: class_name.clone(),
                ..ClassInfo::default()
            });
            self.type_attributes(class);
            if let Some(done) = self.classes.pop() {
                self.class_types.insert(class_name.clone(), done.typed);
            }
            self.typing.remove(&class_name);
            self.qualname.pop();
        }
        self.qualname = qualname;
        self.scopes.extend(inner_scopes);
        self.class_types.contains_key(name)
    }

    /// What one `def` of the class body says: a property's type, a sync
    /// method's return type, that any other `def` of that name is no known
    /// attribute; then the values a method assigns to `self.x` (a
    /// classmethod's `cls.x` makes `x` unknown).
    fn type_from_method(
        &mut self,
        definition: &ast::StmtFunctionDef,
        attributes: &mut Sayings,
        returns: &mut Sayings,
    ) {
        let name = definition.name.id.as_str();
        let property = self.decorated_with(definition, PROPERTY_DECORATORS);
        let class_method = self.decorated_with(definition, &["builtins.classmethod"]);
        let method = self.method_of(definition).is_some();
        if !method {
            // A staticmethod or classmethod: no instance to type from (no
            // scope to build), and a classmethod's `cls.x = ..` makes `x`
            // unknown (below, every assignment untyped).
            attributes.note(name, None, None);
            returns.note(name, None, None);
        } else if property {
            self.push_function_scope(definition);
            attributes.note(name, self.return_type(definition), None);
            returns.note(name, None, None);
        } else {
            self.push_function_scope(definition);
            attributes.note(name, None, None);
            let plain = !definition.is_async && definition.decorator_list.is_empty();
            let kind = if plain {
                self.return_type(definition)
            } else {
                None
            };
            returns.note(name, kind, None);
        }
        if let Some(instance) = first_parameter(&definition.parameters)
            && (method || class_method)
        {
            let mut assigned = SelfAssignments {
                instance: instance.name.id.as_str(),
                nested: !method,
                ..SelfAssignments::default()
            };
            assigned.visit_body(&definition.body);
            for (name, annotation, value) in assigned.found {
                let kind = match (annotation, value) {
                    (Some(annotation), _) => self.annotation_type(annotation),
                    (None, Some(value)) if value.is_await_expr() => Some(AWAITED),
                    (None, value) => value.and_then(|value| self.value_type(value)),
                };
                attributes.note(name, kind, value);
                // An attribute of the instance hides a method of its name.
                returns.note(name, None, value);
            }
        }
        if method {
            self.scopes.pop();
        }
    }

    /// The known type a function returns, evaluated in the scope on top
    /// (the function's own): its annotation's (`-> Path`), unless the body
    /// changes an object's blocking mode (`setblocking`: a non-blocking
    /// socket is still annotated `socket.socket`), or else the one every
    /// `return` gives.
    fn return_type(&self, definition: &ast::StmtFunctionDef) -> Option<&'static str> {
        match self.trusted_return_annotation(definition) {
            Some(annotation) => self.annotation_type(annotation),
            None => self.one_type(&Returns::of(&definition.body)),
        }
    }

    /// The return annotation, unless the body calls `setblocking` (see
    /// [`Analyzer::return_type`]).
    fn trusted_return_annotation<'d>(
        &self,
        definition: &'d ast::StmtFunctionDef,
    ) -> Option<&'d Expr> {
        let annotation = definition.returns.as_deref()?;
        let body = &self.source[bytes(definition.range())];
        memchr::memmem::find(body, b"setblocking")
            .is_none()
            .then_some(annotation)
    }

    /// Whether a plain decorator of `definition` is one of `paths`.
    fn decorated_with(&self, definition: &ast::StmtFunctionDef, paths: &[&str]) -> bool {
        definition.decorator_list.iter().any(|decorator| {
            matches!(self.eval(&decorator.expression),
                Value::Path(path) if paths.contains(&path.as_str()))
        })
    }

    /// The known type of `value`'s object, if it has one.
    fn value_type(&self, value: &Expr) -> Option<&'static str> {
        match self.eval(value) {
            Value::Instance(kind) => Some(kind),
            _ => None,
        }
    }

    fn class(&mut self, class: &'a ast::StmtClassDef) {
        let mut info = ClassInfo {
            name: class.name.id.to_string(),
            ..ClassInfo::default()
        };
        for statement in &class.body {
            if let Stmt::FunctionDef(definition) = statement {
                let method = definition.name.id.to_string();
                if definition.is_async && definition.decorator_list.is_empty() {
                    info.async_methods.insert(method);
                } else {
                    info.other_methods.insert(method);
                }
            }
        }
        for decorator in &class.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        if let Some(arguments) = &class.arguments {
            self.visit_arguments(arguments);
        }
        // What a module-level class is known to be is kept for its
        // subclasses; a nested one's name may be anything elsewhere.
        let module_level = self.qualname.is_empty() && self.is_module_class(&class.name.id);
        self.classes.push(info);
        self.qualname
            .push((class.name.id.to_string(), PartKind::Class));
        self.type_attributes(class);
        self.visit_body(&class.body);
        self.qualname.pop();
        if let Some(done) = self.classes.pop()
            && module_level
        {
            self.class_types.insert(done.name, done.typed);
        }
    }

    /// A lambda: inside the coroutine only when `inline` (an argument of a
    /// builtin that calls it at once); otherwise it may run anywhere.
    fn lambda(&mut self, lambda: &'a ast::ExprLambda, inline: bool) {
        self.scopes.push(Scope::default());
        if let Some(parameters) = &lambda.parameters {
            self.collect_parameters(parameters);
        }
        let outer = if inline {
            self.context.clone()
        } else {
            self.context.take()
        };
        self.visit_expr(&lambda.body);
        self.context = outer;
        self.scopes.pop();
    }

    /// The callee and the arguments of a call; a lambda handed to a builtin
    /// that calls it at once (`sorted(key=lambda ...)`) is inside the
    /// coroutine, any other is not.
    fn walk_call(&mut self, call: &'a ast::ExprCall) {
        self.visit_expr(&call.func);
        let mut at_once = None;
        for argument in call.arguments.iter_source_order() {
            let value = match argument {
                ArgOrKeyword::Arg(value) => value,
                ArgOrKeyword::Keyword(keyword) => &keyword.value,
            };
            let Expr::Lambda(lambda) = value else {
                self.visit_expr(value);
                continue;
            };
            let inline = self.context.is_some()
                && *at_once.get_or_insert_with(|| {
                    matches!(self.eval(&call.func),
                        Value::Path(path) if CALLS_AT_ONCE.contains(&path.as_str()))
                });
            if self.enter(lambda.range) {
                self.lambda(lambda, inline);
                self.leave();
            }
        }
    }

    fn check_call(&mut self, call: &ast::ExprCall) {
        let function = call.func.as_ref();
        let method = method_name(function);
        let mut found = match self.eval(function) {
            Value::Path(path) => self
                .index
                .rule_for_call(Language::Python, &path)
                .map(|rule| (rule, path)),
            _ => None,
        };
        if let Some(method) = method {
            if found.is_none() && self.has_path_keyword(call, method) {
                let path = format!("{PATH_TYPE}.{method}");
                found = self
                    .index
                    .rule_for_call(Language::Python, &path)
                    .map(|rule| (rule, format!("*.{method}")));
            }
            if found.is_none() && self.opens_with_a_mode(call, method) {
                let rule = self
                    .index
                    .rule_for_call(Language::Python, "pathlib.Path.open");
                found = rule.map(|rule| (rule, "*.open".to_string()));
            }
            if found.is_none() && !self.own_method(function) && !self.typed_receiver(function) {
                found = self
                    .index
                    .rule_for_method(Language::Python, method)
                    .filter(|rule| {
                        !(AWAITED_RESULTS.contains(&rule.id) && self.awaited_receiver(function))
                    })
                    .filter(|rule| self.named_as_rule_wants(function, rule))
                    .map(|rule| (rule, format!("*.{method}")));
            }
        }
        let Some((rule, resolved)) = found else {
            return;
        };
        if self.nonblocking > 0
            && NONBLOCKING_WHEN_CAUGHT.contains(&rule.id)
            && self.on_instance(function)
        {
            return;
        }
        if rule.check != Check::Call || self.exempt_by_arguments(call, rule) {
            return;
        }
        self.hit(call, resolved, rule);
    }

    /// Reports `call` as matching `rule`, inside the current async function.
    fn hit(&mut self, call: &ast::ExprCall, resolved: String, rule: &'static Rule) {
        let Some(function) = self.context.clone() else {
            return;
        };
        let callee = call.func.as_ref();
        let (receiver, method) = match callee {
            Expr::Attribute(attribute) => (
                Some(self.receiver(attribute)),
                Some(bytes(attribute.attr.range)),
            ),
            _ => (None, None),
        };
        let on_instance = self.on_instance(callee);
        self.out.hits.push(Hit {
            call: bytes(call.range()),
            callee: bytes(callee.range()),
            receiver,
            method,
            arguments: Some(bytes(call.arguments.range)),
            function,
            resolved,
            rule,
            detail: None,
            on_instance,
        });
    }

    /// The object of `x.name` as written, parentheses included (the tree's
    /// range for `(a / b)` leaves them out): from the attribute's start to
    /// the last token before the dot, past any comment or line break there.
    fn receiver(&self, attribute: &ast::ExprAttribute) -> Range<usize> {
        let name = attribute.attr.range.start();
        let before = &self.tokens[..self.tokens.partition_point(|token| token.end() <= name)];
        let mut significant = before.iter().rev().filter(|token| {
            !matches!(
                token.kind(),
                TokenKind::Comment | TokenKind::NonLogicalNewline | TokenKind::Newline
            )
        });
        match (significant.next(), significant.next()) {
            (Some(dot), Some(last)) if dot.kind() == TokenKind::Dot => {
                attribute.range.start().to_usize()..last.end().to_usize()
            }
            _ => bytes(attribute.value.range()),
        }
    }

    /// `(await x).fetchall()`, or `r.fetchall()` after `r = await x`.
    fn awaited_receiver(&self, callee: &Expr) -> bool {
        let Expr::Attribute(attribute) = callee else {
            return false;
        };
        attribute.value.is_await_expr() || self.eval(&attribute.value) == Value::Awaited
    }

    /// Whether `callee` is a method of an object of a known type: its
    /// methods are what the table says of that type, not what their names
    /// say (`entry.is_dir()` on an `os.DirEntry` answers from the
    /// directory listing).
    fn typed_receiver(&self, callee: &Expr) -> bool {
        matches!(callee, Expr::Attribute(attribute)
            if matches!(self.eval(&attribute.value), Value::Instance(_)))
    }

    /// Whether the receiver of `callee` (a method matched by name alone)
    /// is one `rule` matches: any, unless the rule lists
    /// [`Rule::receiver_names`]; then its last name must be one of them
    /// (`self._db`, `app.session`), and the function must not await a
    /// method of it elsewhere (`await session.execute(..)`: an async one).
    fn named_as_rule_wants(&self, callee: &Expr, rule: &Rule) -> bool {
        if rule.receiver_names.is_empty() {
            return true;
        }
        let Expr::Attribute(attribute) = callee else {
            return false;
        };
        let last = match attribute.value.as_ref() {
            Expr::Name(name) => name.id.as_str(),
            Expr::Attribute(inner) => inner.attr.as_str(),
            _ => return false,
        };
        let last = last.trim_start_matches('_');
        rule.receiver_names
            .iter()
            .any(|name| name.eq_ignore_ascii_case(last))
            && !self
                .awaited_receivers
                .contains(&self.text(attribute.value.range()))
    }

    /// Whether an argument names what makes this call not wait (`WNOHANG`,
    /// `fileobj=`, an `io.BytesIO(..)`): see [`Rule::unless_args`].
    fn exempt_by_arguments(&self, call: &ast::ExprCall, rule: &Rule) -> bool {
        if rule.unless_args.is_empty() {
            return false;
        }
        let named = |name: Option<&str>| name.is_some_and(|name| rule.unless_args.contains(&name));
        fn last_name(expr: &Expr) -> Option<&str> {
            match expr {
                Expr::Name(name) => Some(name.id.as_str()),
                Expr::Attribute(attribute) => Some(attribute.attr.as_str()),
                _ => None,
            }
        }
        // An object of a type so named (`buf` after `buf = io.BytesIO()`),
        // or a constant holding such a flag (`NUMERIC = socket.AI_NUMERICHOST`).
        let typed = |value: &Expr| match self.eval(value) {
            Value::Instance(kind) => {
                let last = kind.rsplit('.').next().unwrap_or(kind);
                rule.unless_args.contains(&last)
            }
            Value::Flags(names) => names.iter().any(|name| named(Some(name))),
            _ => false,
        };
        let value_names = |value: &Expr| match value {
            Expr::Call(inner) => named(last_name(&inner.func)),
            _ => flags(value, 0)
                .into_iter()
                .any(|part| named(last_name(part)) || typed(part)),
        };
        call.arguments
            .iter_source_order()
            .any(|argument| match argument {
                ArgOrKeyword::Keyword(keyword) => {
                    named(keyword.arg.as_ref().map(|name| name.id.as_str()))
                        || value_names(&keyword.value)
                }
                ArgOrKeyword::Arg(value) => value_names(value),
            })
    }

    /// A statement that is only a call to a coroutine function: never awaited.
    fn check_statement(&mut self, statement: &ast::StmtExpr) {
        let Expr::Call(call) = statement.value.as_ref() else {
            return;
        };
        let function = call.func.as_ref();
        let resolved = match self.eval(function) {
            Value::Path(path) => match self.index.rule_for_call(Language::Python, &path) {
                Some(rule) if rule.check == Check::NotAwaited => Some(path),
                _ => None,
            },
            Value::Coroutine => Some(self.text(function.range())),
            _ => self.own_coroutine_method(function),
        };
        if let Some(resolved) = resolved {
            let rule = self.not_awaited;
            self.hit(call, resolved, rule);
        }
    }

    /// `x.unlink(missing_ok=True)`, `x.mkdir(parents=True)`,
    /// `x.touch(exist_ok=True)`: keywords only pathlib's methods take.
    fn has_path_keyword(&self, call: &ast::ExprCall, method: &str) -> bool {
        if self.own_method(&call.func) {
            return false;
        }
        call.arguments.keywords.iter().any(|keyword| {
            keyword
                .arg
                .as_ref()
                .is_some_and(|keyword| PATH_KEYWORDS.contains(&(method, keyword.id.as_str())))
        })
    }

    /// `x.open("rb")`: a method `open` whose first argument is a literal file
    /// mode opens a file, whatever `x` is (a Path from a helper, a fixture).
    fn opens_with_a_mode(&self, call: &ast::ExprCall, method: &str) -> bool {
        if method != "open" || self.own_method(&call.func) {
            return false;
        }
        let Some(ArgOrKeyword::Arg(first)) = call.arguments.iter_source_order().next() else {
            return false;
        };
        if !first.is_string_literal_expr() {
            return false;
        }
        let text = self.text(first.range());
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
    fn own_method(&self, function: &Expr) -> bool {
        let Some(method) = self_attribute(function) else {
            return false;
        };
        self.classes.last().is_some_and(|class| {
            class.async_methods.contains(method) || class.other_methods.contains(method)
        })
    }

    /// `self.name` where the enclosing class defines `async def name` (and no other `name`).
    fn own_coroutine_method(&self, function: &Expr) -> Option<String> {
        let method = self_attribute(function)?;
        let class = self.classes.last()?;
        (class.async_methods.contains(method) && !class.other_methods.contains(method))
            .then(|| format!("self.{method}"))
    }

    /// Whether `callee` is a method of an object of a known type (not a
    /// module's function): see [`super::finding::Hit::on_instance`].
    fn on_instance(&self, callee: &Expr) -> bool {
        match callee {
            Expr::Attribute(attribute) => {
                matches!(self.eval(&attribute.value), Value::Instance(_))
            }
            _ => false,
        }
    }
}

/// The parts of a flag set `A | B | C` (a value that is not one: itself),
/// so `os.WNOHANG | os.WUNTRACED` names `WNOHANG`.
fn flags(value: &Expr, depth: usize) -> Vec<&Expr> {
    match value {
        Expr::BinOp(set) if set.op == Operator::BitOr && depth < MAX_EVAL_DEPTH => {
            let mut parts = flags(&set.left, depth + 1);
            parts.extend(flags(&set.right, depth + 1));
            parts
        }
        _ => vec![value],
    }
}

/// The names of a flag set of constants (`socket.AI_NUMERICHOST |
/// AI_NUMERICSERV`: each part a name or attribute in capitals), to follow a
/// flag through a constant.
fn flag_constants(value: &Expr) -> Option<Vec<String>> {
    let constant = |name: &str| {
        name.len() > 1
            && name.bytes().any(|byte| byte.is_ascii_uppercase())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
    };
    flags(value, 0)
        .into_iter()
        .map(|part| match part {
            Expr::Name(name) => Some(name.id.as_str()),
            Expr::Attribute(attribute) => Some(attribute.attr.as_str()),
            _ => None,
        })
        .map(|name| name.filter(|name| constant(name)).map(str::to_string))
        .collect()
}

/// The method name of a callee `x.name`.
fn method_name(callee: &Expr) -> Option<&str> {
    match callee {
        Expr::Attribute(attribute) => Some(attribute.attr.as_str()),
        _ => None,
    }
}

/// `name` when `callee` is `self.name`.
fn self_attribute(callee: &Expr) -> Option<&str> {
    let Expr::Attribute(attribute) = callee else {
        return None;
    };
    match attribute.value.as_ref() {
        Expr::Name(object) if object.id.as_str() == "self" => Some(attribute.attr.as_str()),
        _ => None,
    }
}

/// The values of the `return` statements of a function body (`None` for a
/// bare `return`, and for a `yield`: a generator does not return its
/// values), not those of nested functions, classes or lambdas.
#[derive(Default)]
struct Returns<'a> {
    values: Vec<Option<&'a Expr>>,
    depth: usize,
}

impl<'a> Returns<'a> {
    /// The values of a body's `return`s (see [`Returns`]).
    fn of(body: &'a [Stmt]) -> Vec<Option<&'a Expr>> {
        let mut returns = Returns::default();
        returns.visit_body(body);
        returns.values
    }
}

impl<'a> Visitor<'a> for Returns<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > MAX_EVAL_DEPTH {
            self.values.push(None);
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::Return(returned) => self.values.push(returned.value.as_deref()),
            _ => visitor::walk_stmt(self, stmt),
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth > MAX_EVAL_DEPTH {
            self.values.push(None);
            return;
        }
        self.depth += 1;
        match expr {
            Expr::Lambda(_) => {}
            Expr::Yield(_) | Expr::YieldFrom(_) => self.values.push(None),
            _ => visitor::walk_expr(self, expr),
        }
        self.depth -= 1;
    }
}

/// `self.x = ..` (also annotated, unpacked, augmented, a loop or `with`
/// target, `self.x.setblocking(False)`, `setattr(self, "x", ..)`) in a
/// method body, nested classes not: the attribute, its annotation and its
/// value where there is a plain one. Inside a nested function (its names
/// are not the method's) every assignment is an untyped one; an empty name
/// (`setattr` with a computed name, code too deep) stands for any.
#[derive(Default)]
struct SelfAssignments<'a> {
    /// The method's first parameter's name.
    instance: &'a str,
    /// Record every assignment as untyped.
    nested: bool,
    found: Vec<(&'a str, Option<&'a Expr>, Option<&'a Expr>)>,
    depth: usize,
}

impl<'a> SelfAssignments<'a> {
    /// `self.x` as the target of something this pass cannot type.
    fn untyped(&mut self, target: &'a Expr) {
        match target {
            Expr::Attribute(attribute) if self.is_instance(&attribute.value) => {
                self.found.push((attribute.attr.as_str(), None, None));
            }
            Expr::Starred(starred) => self.untyped(&starred.value),
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                for element in elts {
                    self.untyped(element);
                }
            }
            _ => {}
        }
    }

    fn is_instance(&self, object: &Expr) -> bool {
        matches!(object, Expr::Name(name) if name.id.as_str() == self.instance)
    }

    /// `self.x = value`, with an annotation or not.
    fn assigned(
        &mut self,
        attribute: &'a str,
        annotation: Option<&'a Expr>,
        value: Option<&'a Expr>,
    ) {
        if self.nested {
            self.found.push((attribute, None, None));
        } else {
            self.found.push((attribute, annotation, value));
        }
    }

    /// `setattr(self, name, ..)` and `self.x.setblocking(False)`.
    fn call(&mut self, call: &'a ast::ExprCall) {
        match call.func.as_ref() {
            Expr::Name(function) if function.id.as_str() == "setattr" => {
                let mut arguments = call.arguments.args.iter();
                if arguments
                    .next()
                    .is_some_and(|object| self.is_instance(object))
                {
                    match arguments.next() {
                        Some(Expr::StringLiteral(name)) => {
                            self.found.push((name.value.to_str(), None, None));
                        }
                        _ => self.found.push(("", None, None)),
                    }
                }
            }
            Expr::Attribute(method)
                if method.attr.as_str() == "setblocking" && !sets_blocking(call) =>
            {
                self.untyped(&method.value);
            }
            _ => {}
        }
    }
}

impl<'a> Visitor<'a> for SelfAssignments<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > MAX_EVAL_DEPTH {
            // Too deep to read whole: nothing here is typed.
            self.found.push(("", None, None));
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::ClassDef(_) => {}
            Stmt::FunctionDef(_) => {
                let outer = std::mem::replace(&mut self.nested, true);
                visitor::walk_stmt(self, stmt);
                self.nested = outer;
            }
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    match target {
                        Expr::Attribute(attribute) if self.is_instance(&attribute.value) => {
                            self.assigned(attribute.attr.as_str(), None, Some(&assign.value));
                        }
                        other => self.untyped(other),
                    }
                }
            }
            Stmt::AnnAssign(assign) => match assign.target.as_ref() {
                Expr::Attribute(attribute) if self.is_instance(&attribute.value) => {
                    let value = assign.value.as_deref();
                    self.assigned(attribute.attr.as_str(), Some(&assign.annotation), value);
                }
                other => self.untyped(other),
            },
            Stmt::AugAssign(assign) => self.untyped(&assign.target),
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    self.untyped(target);
                }
            }
            Stmt::Expr(statement) => {
                if let Expr::Call(call) = statement.value.as_ref() {
                    self.call(call);
                }
            }
            Stmt::For(each) => {
                self.untyped(&each.target);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::With(with) => {
                for item in &with.items {
                    if let Some(target) = item.optional_vars.as_deref() {
                        self.untyped(target);
                    }
                }
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.depth -= 1;
    }

    // Assignments are statements: expressions hold none but in lambdas and
    // comprehensions, which cannot assign attributes.
    fn visit_expr(&mut self, _: &'a Expr) {}
}

/// Everything said of one class's attributes (or its methods' returns) in
/// a round of [`Analyzer::type_attributes`]: a type, or `None` when two
/// sayings differ or one is unknown; opaque once a saying names no
/// attribute (`setattr(self, name, ..)`).
#[derive(Default)]
struct Sayings {
    said: HashMap<String, Option<&'static str>>,
    opaque: bool,
}

impl Sayings {
    /// One saying: the attribute `name` gets `kind` (unknown: `None`) from
    /// `value`; `None` as the value says nothing (`self.conn = None` until
    /// connected), an empty name makes every attribute unknown.
    fn note(&mut self, name: &str, kind: Option<&'static str>, value: Option<&Expr>) {
        if value.is_some_and(Expr::is_none_literal_expr) {
            return;
        }
        if name.is_empty() {
            self.opaque = true;
            return;
        }
        match self.said.get_mut(name) {
            None => {
                self.said.insert(name.to_string(), kind);
            }
            Some(old) if *old == kind => {}
            Some(old) => *old = None,
        }
    }

    /// What a base class says, said again.
    fn inherit(&mut self, said: &HashMap<String, Option<&'static str>>) {
        for (name, kind) in said {
            self.note(name, *kind, None);
        }
    }
}

/// How many rounds [`Analyzer::type_attributes`] takes at most: a chain of
/// attributes typed from one another (`_conn`, the property `conn` returning
/// it, `_cur` from `conn.cursor()`, the property `cur`) takes one a link.
const ATTRIBUTE_ROUNDS: usize = 6;

/// How many names all the classes of a file may copy from their bases
/// (see [`Analyzer::type_attributes`]): a chain of 3,000 classes, each
/// adding an attribute, would copy 4.5 million.
const INHERITANCE_BUDGET: usize = 100_000;

/// The type of an attribute assigned the result of an `await`: an async
/// library's object (see [`Binding::Awaited`]).
const AWAITED: &str = "<awaited>";

/// Decorators that make a method an attribute of the instance.
const PROPERTY_DECORATORS: &[&str] = &["builtins.property", "functools.cached_property"];

/// Decorators that run an `async def` on an event loop of its own in a
/// thread (mitmproxy's `concurrent`).
const THREAD_DECORATORS: &[&str] = &["mitmproxy.script.concurrent"];

/// Decorators that run an `async def` in a thread worker when called with
/// `thread=True` (textual's `work`).
const THREAD_WORKER_DECORATORS: &[&str] = &["textual.work", "textual._work_decorator.work"];

/// A call with the keyword argument `thread=True`.
fn has_thread_true(call: &ast::ExprCall) -> bool {
    call.arguments.keywords.iter().any(|keyword| {
        keyword
            .arg
            .as_ref()
            .is_some_and(|name| name.id.as_str() == "thread")
            && matches!(&keyword.value, Expr::BooleanLiteral(literal) if literal.value)
    })
}

/// What trio and anyio call a wait for a socket's readiness.
const READINESS_WAITS: &[&str] = &[
    "wait_readable",
    "wait_writable",
    "wait_socket_readable",
    "wait_socket_writable",
];

/// Calls that return a tuple with objects of known types, for `a, b = f()`.
const UNPACKED: &[(&str, &[Option<&str>])] = &[
    ("socket.socket.accept", &[Some("socket.socket"), None]),
    (
        "socket.socketpair",
        &[Some("socket.socket"), Some("socket.socket")],
    ),
    (
        "multiprocessing.Pipe",
        &[
            Some("multiprocessing.connection.Connection"),
            Some("multiprocessing.connection.Connection"),
        ],
    ),
];

/// Rules whose methods matched by name alone (`*.fetchall`) are not matched
/// on the result of an `await`: SQLAlchemy's and `databases`' awaited
/// results hold their rows already (an aiosqlite cursor's are coroutines).
const AWAITED_RESULTS: &[&str] = &["py-sync-db"];

/// Rules whose methods on an object are not matched inside `try: ..
/// except BlockingIOError:`, which only a non-blocking socket raises (a
/// module's function, `socket.create_connection`, still is).
const NONBLOCKING_WHEN_CAUGHT: &[&str] = &["py-socket"];

/// `except BlockingIOError:` (or a tuple with it).
fn catches_blocking_io_error(handler: &ExceptHandler) -> bool {
    let ExceptHandler::ExceptHandler(handler) = handler;
    catches(handler, &["BlockingIOError"])
}

/// `except ImportError:` (or `ModuleNotFoundError`, or a tuple with one).
fn catches_import_error(handler: &ast::ExceptHandlerExceptHandler) -> bool {
    catches(handler, &["ImportError", "ModuleNotFoundError"])
}

/// Whether the handler names one of `errors` (alone or in a tuple).
fn catches(handler: &ast::ExceptHandlerExceptHandler, errors: &[&str]) -> bool {
    let named =
        |expr: &Expr| matches!(expr, Expr::Name(name) if errors.contains(&name.id.as_str()));
    match handler.type_.as_deref() {
        Some(Expr::Tuple(types)) => types.elts.iter().any(named),
        Some(other) => named(other),
        None => false,
    }
}

/// `setblocking(True)` (or `1`): the one call that keeps a socket blocking.
fn sets_blocking(call: &ast::ExprCall) -> bool {
    match call.arguments.args.first() {
        Some(Expr::BooleanLiteral(flag)) => flag.value,
        Some(Expr::NumberLiteral(number)) => {
            matches!(&number.value, ast::Number::Int(value) if value.as_u8() == Some(1))
        }
        _ => false,
    }
}

/// The statements of a class body, through `if`, `try`, `with` and loops
/// (a method defined under a condition is still one), not into
/// definitions; without recursion.
fn class_statements(body: &[Stmt]) -> Vec<&Stmt> {
    let mut out = Vec::new();
    let mut pending: Vec<&[Stmt]> = vec![body];
    while let Some(block) = pending.pop() {
        for statement in block {
            match statement {
                Stmt::If(branch) => {
                    pending.push(&branch.body);
                    pending.extend(
                        branch
                            .elif_else_clauses
                            .iter()
                            .map(|clause| &clause.body[..]),
                    );
                }
                Stmt::Try(attempt) => {
                    pending.push(&attempt.body);
                    for handler in &attempt.handlers {
                        let ExceptHandler::ExceptHandler(handler) = handler;
                        pending.push(&handler.body);
                    }
                    pending.push(&attempt.orelse);
                    pending.push(&attempt.finalbody);
                }
                Stmt::With(with) => pending.push(&with.body),
                Stmt::For(each) => {
                    pending.push(&each.body);
                    pending.push(&each.orelse);
                }
                Stmt::While(each) => {
                    pending.push(&each.body);
                    pending.push(&each.orelse);
                }
                other => out.push(other),
            }
        }
    }
    out
}

/// The module's classes that a subclass may inherit from by name: each
/// defined once at the top level (also under `if`/`try`), and its name
/// bound no other way there (an import, a def, an assignment).
fn module_class_definitions(module: &[Stmt]) -> HashMap<&str, &ast::StmtClassDef> {
    let mut classes: HashMap<&str, Option<&ast::StmtClassDef>> = HashMap::new();
    let mut other = HashSet::new();
    for statement in class_statements(module) {
        match statement {
            Stmt::ClassDef(class) => {
                let name = class.name.id.as_str();
                let first = !classes.contains_key(name);
                classes.insert(name, first.then_some(class));
            }
            Stmt::FunctionDef(definition) => {
                other.insert(definition.name.id.as_str());
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name).id.as_str();
                    other.insert(bound.split('.').next().unwrap_or(bound));
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    other.insert(alias.asname.as_ref().unwrap_or(&alias.name).id.as_str());
                }
            }
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    if let Expr::Name(name) = target {
                        other.insert(name.id.as_str());
                    }
                }
            }
            Stmt::AnnAssign(assign) => {
                if let Expr::Name(name) = assign.target.as_ref() {
                    other.insert(name.id.as_str());
                }
            }
            _ => {}
        }
    }
    classes
        .into_iter()
        .filter(|(name, _)| !other.contains(name))
        .filter_map(|(name, class)| Some((name, class?)))
        .collect()
}

/// A function's first positional parameter (a method's instance).
fn first_parameter(parameters: &Parameters) -> Option<&ast::Parameter> {
    let plain = parameters.posonlyargs.iter().chain(&parameters.args);
    plain.map(|parameter| &parameter.parameter).next()
}

/// What textual runs in thread workers, by `run_worker(x, thread=True)`:
/// `(class, method)` for `self.method` in a method of `class`, `("", name)`
/// for a plain name. Only looked for in files that say `run_worker`.
#[derive(Default)]
struct ThreadWorkers {
    found: HashSet<(String, String)>,
    classes: Vec<String>,
    depth: usize,
}

impl<'a> Visitor<'a> for ThreadWorkers {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > MAX_EVAL_DEPTH {
            return;
        }
        self.depth += 1;
        if let Stmt::ClassDef(class) = stmt {
            self.classes.push(class.name.id.to_string());
            visitor::walk_stmt(self, stmt);
            self.classes.pop();
        } else {
            visitor::walk_stmt(self, stmt);
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth > MAX_EVAL_DEPTH {
            return;
        }
        self.depth += 1;
        if let Expr::Call(call) = expr
            && method_name(&call.func) == Some("run_worker")
            && has_thread_true(call)
        {
            let owner = self.classes.last().cloned().unwrap_or_default();
            match call.arguments.args.first() {
                Some(Expr::Attribute(method)) if matches!(method.value.as_ref(), Expr::Name(name) if name.id.as_str() == "self") =>
                {
                    self.found.insert((owner, method.attr.to_string()));
                }
                Some(Expr::Name(function)) => {
                    self.found.insert((String::new(), function.id.to_string()));
                }
                _ => {}
            }
        }
        visitor::walk_expr(self, expr);
        self.depth -= 1;
    }
}

const PATH_TYPE: &str = "pathlib.Path";

/// What `os.scandir(..)` gives, and what iterating it gives (rules.rs's
/// producers name both).
const SCANDIR_ITERATOR: &str = "os.ScandirIterator";
const DIR_ENTRY: &str = "os.DirEntry";

/// Whether `text` holds one of `words`.
fn holds_any(text: &[u8], words: &[String]) -> bool {
    words
        .iter()
        .any(|word| memchr::memmem::find(text, word.as_bytes()).is_some())
}

/// The receivers, as written, of the method calls `body` awaits (`await
/// r.m(..)`, `async with r.m(..)`, `async for _ in r.m(..)`), outside the
/// functions and classes it defines.
fn awaited_receivers(body: &[Stmt], source: &[u8]) -> HashSet<String> {
    let mut finder = AwaitedReceivers {
        source,
        found: HashSet::new(),
        depth: 0,
    };
    finder.visit_body(body);
    finder.found
}

struct AwaitedReceivers<'s> {
    source: &'s [u8],
    found: HashSet<String>,
    depth: usize,
}

impl AwaitedReceivers<'_> {
    fn note(&mut self, awaited: &Expr) {
        if let Expr::Call(call) = awaited
            && let Expr::Attribute(method) = call.func.as_ref()
        {
            let text = super::finding::text_at(&bytes(method.value.range()), self.source);
            self.found.insert(text.into_owned());
        }
    }
}

impl<'a> Visitor<'a> for AwaitedReceivers<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > MAX_EVAL_DEPTH {
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::For(each) if each.is_async => {
                self.note(&each.iter);
                visitor::walk_stmt(self, stmt);
            }
            Stmt::With(with) if with.is_async => {
                for item in &with.items {
                    self.note(&item.context_expr);
                }
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth > MAX_EVAL_DEPTH {
            return;
        }
        self.depth += 1;
        match expr {
            Expr::Lambda(_) => {}
            Expr::Await(awaited) => {
                self.note(&awaited.value);
                visitor::walk_expr(self, expr);
            }
            _ => visitor::walk_expr(self, expr),
        }
        self.depth -= 1;
    }
}

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

#[cfg(test)]
mod tests {
    use crate::blocking::rules::Language;
    use crate::blocking::scan::testing::{self, scan};

    fn found(text: &str) -> Vec<(u64, String)> {
        testing::found(Language::Python, text)
    }

    #[test]
    fn attributes_come_from_bases_however_far_up() {
        let chain = |links: usize| {
            let mut text = String::from(
                "from pathlib import Path\nclass C0:\n    def __init__(self):\n        self.p = Path('a')\n",
            );
            for link in 1..links {
                text.push_str(&format!("class C{link}(C{}):\n    pass\n", link - 1));
            }
            text.push_str(&format!(
                "class Last(C{}):\n    async def f(self):\n        self.p.exists()\n",
                links - 1
            ));
            text
        };
        assert_eq!(found(&chain(10)).len(), 1);
        // Thousands of links are followed without a recursion each.
        assert_eq!(found(&chain(5_000)).len(), 1);
        // A class that is its own base (rebound names) ends.
        let own = "class A(A):\n    async def f(self):\n        self.p.exists()\n";
        assert!(found(own).is_empty());
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
    fn a_parenthesized_receiver_keeps_its_parentheses_in_the_suggestion() {
        let text = "from pathlib import Path\nasync def f(d: Path):\n    (d / 'a').open('rb')\n    ( d\n      / 'b' ).read_text()\n";
        let findings = scan(Language::Python, text).findings;
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert_eq!(findings[0].call, "(d / 'a').open");
        assert!(
            findings[0]
                .suggestion
                .contains("to_thread((d / 'a').open, 'rb')"),
            "{}",
            findings[0].suggestion
        );
        assert_eq!(findings[1].call, "(d / 'b').read_text");
        assert!(
            findings[1].suggestion.contains("(d / 'b').read_text"),
            "{}",
            findings[1].suggestion
        );
    }

    #[test]
    fn a_receiver_ends_before_a_comment_or_line_break_ahead_of_its_dot() {
        let text = "from pathlib import Path\nimport socket\nasync def f(p: Path, s: socket.socket):\n    p \\\n        .read_text()\n    (p  # see a.b\n     .read_text())\n    (p.  # see a.b\n     read_text())\n    (s  # sock.et\n     .recv(10))\n";
        let suggestions: Vec<String> = scan(Language::Python, text)
            .findings
            .into_iter()
            .map(|finding| finding.suggestion)
            .collect();
        assert_eq!(suggestions.len(), 4, "{suggestions:?}");
        for suggestion in &suggestions[..3] {
            assert!(
                suggestion.contains("to_thread(p.read_text)"),
                "{suggestion}"
            );
        }
        assert!(
            suggestions[3].contains("sock_recv(s, 10)"),
            "{}",
            suggestions[3]
        );
    }

    #[test]
    fn wnohang_exempts_waitpid_also_in_a_flag_set_or_by_keyword() {
        let text = "import os\nasync def f(pid):\n    os.waitpid(pid, os.WNOHANG | os.WUNTRACED)\n    os.waitpid(pid, options=os.WNOHANG)\n    os.waitpid(pid, os.WUNTRACED | os.WCONTINUED)\n    os.waitpid(pid, 0)\n";
        let lines: Vec<u64> = found(text).into_iter().map(|(line, _)| line).collect();
        assert_eq!(lines, [5, 6]);
    }

    #[test]
    fn awaited_calls_and_referenced_functions_are_not_calls() {
        let text = "import time, asyncio\nasync def f(loop):\n    await asyncio.to_thread(time.sleep, 1)\n    await loop.run_in_executor(None, time.sleep, 1)\n    await asyncio.wait_for(asyncio.sleep(1), 2)\n";
        assert_eq!(found(text), []);
    }
}
