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
//!   `lambda`, `**`, a conditional's `if`, ...). That over-counts a little
//!   (an element's operators count until its comma), never under-counts.

use ruff_python_ast::token::TokenKind;
use ruff_python_parser::{Mode, lexer};

/// The deepest nesting parsed: well past what CPython accepts, and at
/// most some 10 MB of the parser's stack.
pub(crate) const MAX_NESTING: usize = 5_000;

/// Whether `source` has enough nesting bytes and keywords to nest more
/// than `limit` levels (a quick upper bound: most files do not).
pub(crate) fn may_nest_deeper(source: &[u8], limit: usize) -> bool {
    const OPENERS: &[u8] = b"([{-+~*";
    let mut table = [0u8; 256];
    for &byte in OPENERS {
        table[usize::from(byte)] = 1;
    }
    let mut count: usize = source
        .iter()
        .map(|&byte| usize::from(table[usize::from(byte)]))
        .sum();
    if count <= limit {
        // `not`, `await`, `lambda`, `yield`, `if` and `:=` nest without a
        // bracket; counted as substrings (`nothing` too): an upper bound.
        for word in [&b"not"[..], b"await", b"lambda", b"yield", b"if", b":="] {
            count += memchr::memmem::find_iter(source, word).count();
            if count > limit {
                break;
            }
        }
    }
    count > limit
}

/// Whether the nesting of `text` may pass `limit` levels, by its tokens.
pub(crate) fn nests_deeper(text: &str, limit: usize) -> bool {
    let mut lexer = lexer::lex(text, Mode::Module);
    // Levels from the brackets open around the current one, each counting
    // itself and the recursing operators before it; and those of the
    // current bracket (or statement).
    let mut outer: Vec<usize> = Vec::new();
    let mut below = 0usize;
    let mut current = 0usize;
    let mut previous = TokenKind::Newline;
    loop {
        let kind = lexer.next_token();
        match kind {
            TokenKind::EndOfFile => return false,
            TokenKind::Comment | TokenKind::NonLogicalNewline => continue,
            TokenKind::Lpar
            | TokenKind::Lsqb
            | TokenKind::Lbrace
            | TokenKind::FStringStart
            | TokenKind::TStringStart => {
                outer.push(current);
                below += current + 1;
                current = 0;
            }
            TokenKind::Rpar
            | TokenKind::Rsqb
            | TokenKind::Rbrace
            | TokenKind::FStringEnd
            | TokenKind::TStringEnd => {
                if let Some(saved) = outer.pop() {
                    below -= saved + 1;
                    current = saved;
                }
            }
            TokenKind::Comma | TokenKind::Semi | TokenKind::Newline => current = 0,
            // Unary only after something that cannot end an operand
            // (`a - -b`: the second); binary ones parse in a loop.
            TokenKind::Minus | TokenKind::Plus | TokenKind::Tilde | TokenKind::Star
                if !ends_operand(previous) =>
            {
                current += 1;
            }
            // `x not in y` is a comparison, not a `not`.
            TokenKind::Not if !ends_operand(previous) => current += 1,
            TokenKind::DoubleStar
            | TokenKind::Await
            | TokenKind::Lambda
            | TokenKind::Yield
            | TokenKind::If
            | TokenKind::ColonEqual => current += 1,
            _ => {}
        }
        if below + current > limit {
            return true;
        }
        previous = kind;
    }
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
