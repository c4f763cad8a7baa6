//! Walking tree-sitter trees (Rust's; Python is parsed by ruff's parser,
//! see [`super::python`]): the depth-limited walk into async code and what
//! it collects ([`Walk`], [`walk`]), a non-recursive pre-order visit for
//! whole-file passes ([`preorder`]), and child lookups by field and kind.
//!
//! Children are gone through with tree-sitter's own iteration on a cursor
//! (`Node::children`, `Node::named_children`) and looked up with
//! `child_by_field_name`. The analyzer keeps only what is its language's:
//! which node kinds make a scope, bind a name, call something or need
//! checking.

use super::finding::{Analysis, Hit, may_hold_async, text_of};
use super::rules::Rule;
use std::borrow::Cow;
use tree_sitter::{Node, TreeCursor};

/// Deeper expressions are not evaluated (the analyzer then knows nothing of
/// their value: a miss, never a false finding).
pub(crate) const MAX_EVAL_DEPTH: usize = 400;

/// Where an analyzer's walk is and what it has found so far.
pub(crate) struct Walk<'t, 's> {
    /// The file's bytes, which nodes point into.
    source: &'s [u8],
    /// The async function whose body is being walked (its name as
    /// reported: `A.m`, `Type::f`, `main::{async block}`), if any.
    pub(crate) context: Option<String>,
    /// How many nodes [`Walk::enter`] has entered and not left.
    depth: usize,
    /// Deeper nodes are not entered: they go to `out.too_deep` (a pass that
    /// counts its own depth checks it against this too).
    pub(crate) max_depth: usize,
    /// Where the keyword `async` may start (see [`may_hold_async`]).
    async_at: &'s [usize],
    /// Cursors [`walk_children`] is done with, for the next one: a new
    /// cursor allocates, and there is one a node walked. At most one a
    /// level of nesting.
    spare_cursors: Vec<TreeCursor<'t>>,
    pub(crate) out: Analysis,
}

impl<'t, 's> Walk<'t, 's> {
    /// A walk of a file's tree, outside any async function, that enters
    /// nodes down to `max_depth` deep.
    pub(crate) fn new(source: &'s [u8], async_at: &'s [usize], max_depth: usize) -> Self {
        Walk {
            source,
            context: None,
            depth: 0,
            max_depth,
            async_at,
            spare_cursors: Vec::new(),
            out: Analysis::default(),
        }
    }

    /// The source text of `node`, borrowed when it is valid UTF-8.
    pub(crate) fn str(&self, node: Node<'_>) -> Cow<'s, str> {
        text_of(node, self.source)
    }

    /// The source text of `node`, owned.
    pub(crate) fn text(&self, node: Node<'_>) -> String {
        self.str(node).into_owned()
    }

    /// The text of `node`'s child in `field` (a definition's `name`), empty
    /// when it has none.
    pub(crate) fn field_text(&self, node: Node<'_>, field: &str) -> String {
        node.child_by_field_name(field)
            .map(|child| self.text(child))
            .unwrap_or_default()
    }

    /// One level deeper into `node`: false, with `node` recorded as too
    /// deep, past the limit; otherwise [`Walk::leave`] must follow.
    pub(crate) fn enter(&mut self, node: Node<'t>) -> bool {
        if self.depth > self.max_depth {
            self.out.too_deep.push(node.byte_range());
            return false;
        }
        self.depth += 1;
        true
    }

    /// Back from a node [`Walk::enter`] entered.
    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Reports `call` (whose callee is `callee`) as matching `rule`, inside
    /// the current async function; nothing outside one.
    pub(crate) fn hit(
        &mut self,
        call: Node<'t>,
        callee: Node<'t>,
        resolved: String,
        rule: &'static Rule,
        detail: Option<String>,
        on_instance: bool,
    ) {
        let Some(function) = self.context.clone() else {
            return;
        };
        // `a.b()` is a field expression; `a::b()` a scoped path named `b`.
        let receiver = callee
            .child_by_field_name("value")
            .filter(|_| callee.kind() == "field_expression")
            .map(|receiver| receiver.byte_range());
        let method = ["field", "name"]
            .iter()
            .find_map(|field| callee.child_by_field_name(field))
            .map(|method| method.byte_range());
        self.out.hits.push(Hit {
            call: call.byte_range(),
            callee: callee.byte_range(),
            receiver,
            method,
            arguments: call
                .child_by_field_name("arguments")
                .map(|arguments| arguments.byte_range()),
            function,
            resolved,
            rule,
            detail,
            on_instance,
        });
    }
}

/// An analyzer that [`walk`] drives.
pub(crate) trait Visit<'t, 's> {
    /// The walk's state.
    fn state(&mut self) -> &mut Walk<'t, 's>;

    /// Inside an async function: reports what `node` itself does (a
    /// blocking call, a coroutine never awaited, a lock guard held across
    /// an `.await`), before [`walk`] goes into it. `kind` is `node.kind()`
    /// (looked up once a node: each lookup measures and checks the name).
    fn check(&mut self, node: Node<'t>, kind: &str);

    /// What the language does with a named node [`walk`] entered (never an
    /// ERROR node), of kind `kind`: true to have [`walk`] go on into its
    /// children, false when it walked them itself (a new scope) or there
    /// is nothing there.
    fn visit(&mut self, node: Node<'t>, kind: &str) -> bool;
}

/// Walks `node`, within the depth limit. Outside async code nothing is
/// reported, and only code spelled with `async` can start some: a node
/// outside both is not walked.
pub(crate) fn walk<'t, 's, V: Visit<'t, 's>>(analyzer: &mut V, node: Node<'t>) {
    let state = analyzer.state();
    if state.context.is_none()
        && !may_hold_async(state.async_at, node.start_byte(), node.end_byte())
    {
        return;
    }
    if !state.enter(node) {
        return;
    }
    let kind = node.kind();
    if kind == "ERROR" {
        // Tree-sitter's recovery: no call directly in it is checked (a
        // broken `def` or `fn` line may be what it swallowed), but complete
        // definitions inside are analyzed; the scan reports the rest.
        let outer = analyzer.state().context.take();
        walk_children(analyzer, node);
        analyzer.state().context = outer;
    } else {
        if analyzer.state().context.is_some() {
            analyzer.check(node, kind);
        }
        if analyzer.visit(node, kind) {
            walk_children(analyzer, node);
        }
    }
    analyzer.state().leave();
}

/// [`walk`]s each named child of `node`, in source order.
pub(crate) fn walk_children<'t, 's, V: Visit<'t, 's>>(analyzer: &mut V, node: Node<'t>) {
    let spare = analyzer.state().spare_cursors.pop();
    let mut cursor = spare.unwrap_or_else(|| node.walk());
    for child in node.named_children(&mut cursor) {
        walk(analyzer, child);
    }
    analyzer.state().spare_cursors.push(cursor);
}

/// Visits `root` and every node below it in source order without recursing
/// (a deep tree cannot overflow the stack); `enter` says for each node
/// whether to go into its children.
pub(crate) fn preorder<'t>(root: Node<'t>, mut enter: impl FnMut(Node<'t>) -> bool) {
    let mut cursor = root.walk();
    loop {
        if enter(cursor.node()) && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// The named children of `node`, collected: to look at them by position,
/// or to go through them without a cursor at hand.
pub(crate) fn named_children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// Whether `node` has a direct child of kind `kind` (keywords included).
pub(crate) fn has_child(node: Node<'_>, kind: &str) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|child| child.kind() == kind)
}

/// The first named child of `node` of kind `kind`.
pub(crate) fn named_child_of_kind<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .find(|child| child.kind() == kind)
}

/// `node`'s child in `field`, when it is of kind `kind`.
pub(crate) fn field_of_kind<'t>(node: Node<'t>, field: &str, kind: &str) -> Option<Node<'t>> {
    node.child_by_field_name(field)
        .filter(|child| child.kind() == kind)
}

/// `node`'s children in the two fields, when it has both.
pub(crate) fn fields<'t>(
    node: Node<'t>,
    first: &str,
    second: &str,
) -> Option<(Node<'t>, Node<'t>)> {
    Some((
        node.child_by_field_name(first)?,
        node.child_by_field_name(second)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tree_sitter::Tree;

    fn rust(text: &str) -> Tree {
        crate::blocking::scan::parse_rust(text.as_bytes(), &mut || true)
            .expect("not abandoned")
            .expect("parses")
    }

    #[test]
    fn preorder_visits_in_source_order_and_skips_what_it_does_not_enter() {
        let text = "mod a { fn b() {} }\nfn c() { d!(e); }\n";
        let tree = rust(text);
        let mut seen = Vec::new();
        preorder(tree.root_node(), |node| {
            if matches!(node.kind(), "function_item" | "mod_item") {
                let name = node.child_by_field_name("name").unwrap();
                seen.push(text_of(name, text.as_bytes()).into_owned());
            }
            node.kind() != "macro_invocation"
        });
        assert_eq!(seen, ["a", "b", "c"]);
        let mut kinds = Vec::new();
        preorder(tree.root_node(), |node| {
            kinds.push(node.kind());
            node.kind() != "mod_item"
        });
        assert!(kinds.contains(&"mod_item"));
        assert!(!kinds.contains(&"declaration_list"), "{kinds:?}");
        assert!(kinds.contains(&"token_tree"), "{kinds:?}");
    }

    #[test]
    fn lookups_by_field_and_kind() {
        let text = "async fn f(x: u8) { x.y(); }\n";
        let tree = rust(text);
        let function = tree.root_node().named_child(0).unwrap();
        assert!(has_child(
            named_child_of_kind(function, "function_modifiers").unwrap(),
            "async"
        ));
        assert!(!has_child(function, "async"), "a grandchild only");
        let body = function.child_by_field_name("body").unwrap();
        let call = named_children(body)[0].named_child(0).unwrap();
        let callee = field_of_kind(call, "function", "field_expression").unwrap();
        assert!(field_of_kind(call, "function", "identifier").is_none());
        let (value, field) = fields(callee, "value", "field").unwrap();
        assert_eq!(text_of(value, text.as_bytes()), "x");
        assert_eq!(text_of(field, text.as_bytes()), "y");
        assert!(fields(callee, "value", "arguments").is_none());
    }

    #[test]
    fn enter_stops_at_the_limit_and_records_the_node() {
        let tree = rust("fn f() {}\n");
        let root = tree.root_node();
        let mut walk = Walk::new(b"fn f() {}\n", &[], 1);
        assert!(walk.enter(root));
        assert!(walk.enter(root));
        assert!(!walk.enter(root), "depth 2 is past a limit of 1");
        assert_eq!(walk.out.too_deep.len(), 1);
        walk.leave();
        assert!(walk.enter(root));
        assert_eq!(walk.field_text(root.named_child(0).unwrap(), "name"), "f");
        assert_eq!(walk.field_text(root, "name"), "");
    }
}
