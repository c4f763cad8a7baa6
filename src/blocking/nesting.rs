//! How deep a Python file nests, known before ruff's parser sees it.
//!
//! Ruff's parser recurses once per level of nesting and grows its stack on
//! the heap as it goes (stacker): about 1 KB a level for `- - - x` or
//! `not not x`, 2 KB for `((x))` or `[[x]]`, and nested f-strings take
//! quadratic time. A 4 MiB file of brackets cost 4.4 GB, and four such
//! files parsed at once more than the machine had. CPython itself refuses
//! such files: more than 200 nested brackets is a syntax error, and a few
//! thousand levels of anything else a `RecursionError` or `MemoryError`
//! in its parser (measured on 3.11: `-` x 3000, `lambda:` x 3000, `**1` x
//! 3000, nested f-strings past 100).
//!
//! So a file that may nest deeper than [`MAX_NESTING`] is not parsed: it
//! is reported unscanned as a whole (`too_deep`). Two passes decide, the
//! second only when the first cannot rule it out:
//! - [`may_nest_deeper`]: every level needs a byte of `([{-+~*` or one of
//!   a few keywords; most files have fewer of those than the limit;
//! - [`nests_deeper`]: ruff's own lexer (about a quarter of a parse's
//!   time), tracking the open brackets and, inside each, the operators
//!   that make the parser recurse without one (unary `-`, `not`, `await`,
//!   `lambda`, `**`, a conditional's `if`, `async`, ...), each until what
//!   ends it (a binary operator ends the unary ones before it, `and` and
//!   `or` end `not`, a comma or the statement's end the rest). It may count
//!   a level the parser does not take (a lambda's body held until the
//!   element ends), never leaves out one it takes that we know of.

use ruff_python_ast::token::TokenKind;
use ruff_python_parser::{Mode, lexer};

/// The deepest nesting parsed: well past what CPython accepts, and at
/// most some 10 MB of the parser's stack.
pub(crate) const MAX_NESTING: usize = 5_000;

/// Whether `source` has enough nesting bytes and keywords to nest more
/// than `limit` levels (a quick upper bound: most files do not).
pub(crate) fn may_nest_deeper(source: &[u8], limit: usize) -> bool {
    // `{` twice: in an f-string a level is its start and its `{`.
    let mut weights = [0u8; 256];
    for &byte in b"([-+~*" {
        weights[usize::from(byte)] = 1;
    }
    weights[usize::from(b'{')] = 2;
    let mut count: usize = source
        .iter()
        .map(|&byte| usize::from(weights[usize::from(byte)]))
        .sum();
    if count <= limit {
        // Keywords nest without a bracket; counted as substrings
        // (`nothing` too): an upper bound.
        for word in [
            &b"not"[..],
            b"await",
            b"async",
            b"lambda",
            b"yield",
            b"if",
            b":=",
        ] {
            count += memchr::memmem::find_iter(source, word).count();
            if count > limit {
                break;
            }
        }
    }
    count > limit
}

/// What is open at one bracket level (or the statement's): the levels
/// the parser is inside of there, by what closes them.
#[derive(Debug, Clone, Copy, Default)]
struct Level {
    /// Unary `-`/`+`/`~`/`*`, `await`, `**`: done at the next binary
    /// operator (they bind tighter than all but `**`, itself done there).
    tight: usize,
    /// `not`: done at `and` / `or` (looser than comparisons).
    nots: usize,
    /// `lambda`, a conditional's `if`, `yield`, `:=`, `async`: done at the
    /// end of the element (a comma) or of the statement.
    loose: usize,
    /// `lambda`s whose parameters are still being read: their commas do
    /// not end an element.
    lambda_parameters: usize,
}

impl Level {
    fn depth(&self) -> usize {
        self.tight + self.nots + self.loose
    }
}

/// Whether the nesting of `text` may pass `limit` levels, by its tokens.
pub(crate) fn nests_deeper(text: &str, limit: usize) -> bool {
    let mut lexer = lexer::lex(text, Mode::Module);
    let mut outer: Vec<Level> = Vec::new();
    // The levels of the brackets around the current one, each counting
    // itself and what was open in it.
    let mut below = 0usize;
    let mut current = Level::default();
    let mut previous = TokenKind::Newline;
    loop {
        let kind = lexer.next_token();
        let after_operand = ends_operand(previous);
        match kind {
            TokenKind::EndOfFile => return false,
            TokenKind::Comment | TokenKind::NonLogicalNewline => continue,
            TokenKind::Lpar
            | TokenKind::Lsqb
            | TokenKind::Lbrace
            | TokenKind::FStringStart
            | TokenKind::TStringStart => {
                below += current.depth() + 1;
                outer.push(current);
                current = Level::default();
            }
            TokenKind::Rpar
            | TokenKind::Rsqb
            | TokenKind::Rbrace
            | TokenKind::FStringEnd
            | TokenKind::TStringEnd => {
                if let Some(saved) = outer.pop() {
                    below -= saved.depth() + 1;
                    current = saved;
                }
            }
            TokenKind::Comma if current.lambda_parameters > 0 => {}
            TokenKind::Comma | TokenKind::Semi | TokenKind::Newline => current = Level::default(),
            TokenKind::Colon => {
                current.lambda_parameters = current.lambda_parameters.saturating_sub(1);
            }
            TokenKind::And | TokenKind::Or if after_operand => {
                current.tight = 0;
                current.nots = 0;
            }
            // `**` is right-associative (`a ** b ** c` recurses) and binds
            // tighter than a unary operator before it: nothing ends here.
            TokenKind::DoubleStar => current.tight += 1,
            // Unary only after something that cannot end an operand
            // (`a - -b`: the second); binary operators parse in a loop
            // and end the unary ones before them.
            TokenKind::Minus | TokenKind::Plus | TokenKind::Tilde | TokenKind::Star => {
                if after_operand {
                    current.tight = 0;
                } else {
                    current.tight += 1;
                }
            }
            // `x not in y` is a comparison, not a `not`.
            TokenKind::Not if !after_operand => current.nots += 1,
            kind if after_operand && is_binary(kind) => current.tight = 0,
            TokenKind::Await => current.tight += 1,
            TokenKind::Lambda => {
                current.loose += 1;
                current.lambda_parameters += 1;
            }
            TokenKind::Yield | TokenKind::If | TokenKind::ColonEqual | TokenKind::Async => {
                current.loose += 1;
            }
            _ => {}
        }
        if below + current.depth() > limit {
            return true;
        }
        previous = kind;
    }
}

/// Binary operators other than `and`, `or`, `**` and the ones that are
/// also unary: after an operand they end its unary operators.
fn is_binary(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Slash
            | TokenKind::DoubleSlash
            | TokenKind::Percent
            | TokenKind::At
            | TokenKind::LeftShift
            | TokenKind::RightShift
            | TokenKind::Amper
            | TokenKind::Vbar
            | TokenKind::CircumFlex
            | TokenKind::Less
            | TokenKind::Greater
            | TokenKind::LessEqual
            | TokenKind::GreaterEqual
            | TokenKind::EqEqual
            | TokenKind::NotEqual
            | TokenKind::In
            | TokenKind::Is
            | TokenKind::Not
    )
}

/// Tokens after which `-`, `+`, `*` and `not` are binary.
fn ends_operand(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Name
            | TokenKind::Int
            | TokenKind::Float
            | TokenKind::Complex
            | TokenKind::String
            | TokenKind::FStringEnd
            | TokenKind::TStringEnd
            | TokenKind::Rpar
            | TokenKind::Rsqb
            | TokenKind::Rbrace
            | TokenKind::None
            | TokenKind::True
            | TokenKind::False
            | TokenKind::Ellipsis
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deeper(text: &str, limit: usize) -> bool {
        nests_deeper(text, limit)
    }

    #[test]
    fn brackets_and_recursing_operators_count_and_flat_code_does_not() {
        assert!(deeper(
            &format!("x = {}1{}\n", "(".repeat(11), ")".repeat(11)),
            10
        ));
        assert!(!deeper(
            &format!("x = {}1{}\n", "(".repeat(9), ")".repeat(9)),
            10
        ));
        for deep in [
            format!("x = {}1\n", "-".repeat(11)),
            format!("x = {}1\n", "not ".repeat(11)),
            format!("x = 1{}\n", "**1".repeat(11)),
            format!("x = {}1\n", "lambda: ".repeat(11)),
            format!("x = 1{}\n", " if 1 else 1".repeat(11)),
            format!("x = {}1{}\n", "f'{".repeat(6), "}'".repeat(6)),
            format!("x = [{}1]\n", "-(".repeat(6)) + &")".repeat(6),
            // Parameters' commas do not end a lambda; `async` recurses too.
            format!("x = {}1\n", "lambda a, b: ".repeat(11)),
            format!("{}def f(): pass\n", "async ".repeat(11)),
            format!("x = {}1\n", "not -".repeat(6)),
        ] {
            assert!(deeper(&deep, 10), "{deep}");
        }
        // Left-associative chains and sequences parse in a loop.
        for flat in [
            format!("x = 1{}\n", " + 1".repeat(100)),
            format!("x = 1{}\n", " - 1".repeat(100)),
            format!("x = [{}]\n", "-1, ".repeat(100)),
            format!("x = f({})\n", "not a, ".repeat(100)),
            format!("x = a{}\n", ".b[1](2)".repeat(100)),
            format!("{}\n", "x = -1; y = not x\n".repeat(100)),
            format!("x = a{}\n", " not in b and c".repeat(100)),
            // Valid Python CPython compiles: each `not`, `**` or `-` is done
            // at the next `and`, `or` or binary operator.
            format!("x = not a{}\n", " and not a".repeat(100)),
            format!("x = a**2{}\n", " or a**2".repeat(100)),
            format!("x = -a{}\n", " * -a".repeat(100)),
            format!("x = f({})\n", "lambda a: a, ".repeat(100)),
        ] {
            assert!(!deeper(&flat, 10), "{flat}");
        }
        // Unbalanced closers never underflow.
        assert!(!deeper(")))]]}\nx = 1\n", 10));
    }

    #[test]
    fn the_byte_count_is_an_upper_bound_of_the_lexer_count() {
        let samples = [
            format!("x = {}1\n", "not ".repeat(30)),
            format!("x = {}1{}\n", "(".repeat(30), ")".repeat(30)),
            format!("x = {}1\n", "lambda:".repeat(30)),
            format!("async def f():\n    x = {}1\n", "await ".repeat(30)),
            format!("x = 1{}\n", " if 1 else 1".repeat(30)),
            format!("x = {}1\n", "-".repeat(30)),
            format!("x = {}1{}\n", "f'{".repeat(15), "}'".repeat(15)),
            format!("{}def f(): pass\n", "async ".repeat(30)),
            format!("x = {}1\n", "lambda a, b: ".repeat(30)),
        ];
        for text in samples {
            assert!(nests_deeper(&text, 20), "{text}");
            assert!(may_nest_deeper(text.as_bytes(), 20), "{text}");
        }
        assert!(!may_nest_deeper(
            b"import time\nasync def f():\n    time.sleep(1)\n",
            20
        ));
    }
}
