//! Splits a query into tokens with byte spans.

use std::ops::Range;

use nom::bytes::complete::{take_while, take_while1};
use nom::combinator::recognize;
use nom::sequence::pair;
use nom::IResult;

use super::literal;
use crate::ast::BinOp;
use crate::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier or keyword, as written (keywords are matched
    /// case-insensitively by the parser).
    Ident(String),
    Number(f64),
    /// Milliseconds.
    Duration(i64),
    /// Already unescaped.
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    /// `=` (label matching).
    Assign,
    /// `=~`
    EqlRegex,
    /// `!~`
    NeqRegex,
    /// `+ - * / % ^ == != > < >= <=`.
    Op(BinOp),
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

/// Words with a fixed meaning; shown as `<word>` in errors.
pub const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "atan2",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
];

/// Keywords that can never be a metric name, unlike `by`, `offset`, `and`,
/// `sum` and the like (Prometheus's `metric_identifier` rule).
pub const NOT_METRIC_NAMES: &[&str] = &["on", "ignoring", "group_left", "group_right", "bool"];

fn ident(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
    ))(i)
}

fn label_ident(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))(i)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The tokens of a query and, when lexing stopped early, the error found
/// where the token list ends. The parser reports that error only once it
/// reaches that point, as Prometheus's parser pulls tokens lazily: an
/// earlier syntax error wins.
pub struct Lexed {
    /// Always ends with [`Tok::Eof`] (at the error position, if any).
    pub toks: Vec<Token>,
    pub error: Option<ParseError>,
}

/// Tokenizes the query, tracking parentheses, brackets and braces the way
/// Prometheus's lexer does for its errors.
pub fn lex(q: &str) -> Lexed {
    let mut toks = Vec::new();
    let error = lex_into(q, &mut toks).err();
    let end = error.as_ref().map_or(q.len(), |e| e.span.start);
    toks.push(Token {
        tok: Tok::Eof,
        span: end..end,
    });
    Lexed { toks, error }
}

fn lex_into(q: &str, toks: &mut Vec<Token>) -> Result<(), ParseError> {
    let mut pos = 0;
    let mut paren_depth = 0usize;
    let mut bracket_open = false;
    let mut brace_open = false;
    let err = |span: Range<usize>, msg: String| Err(ParseError::new(q, span, msg));
    loop {
        let Some(c) = q[pos..].chars().next() else {
            let end = q.len()..q.len();
            if brace_open {
                return err(end, "unexpected end of input inside braces".into());
            }
            if paren_depth > 0 {
                return err(end, "unclosed left parenthesis".into());
            }
            if bracket_open {
                return err(end, "unclosed left bracket".into());
            }
            return Ok(());
        };
        let rest = &q[pos..];
        if c.is_whitespace() {
            pos += c.len_utf8();
            continue;
        }
        if c == '#' {
            pos += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        let start = pos;
        let char_span = start..start + c.len_utf8();
        let next = rest[c.len_utf8()..].chars().next();
        let (tok, len) = match c {
            '"' | '\'' | '`' => {
                let (s, len) = lex_string(q, start, c)?;
                (Tok::Str(s), len)
            }
            ',' => (Tok::Comma, 1),
            '=' if next == Some('~') && brace_open => (Tok::EqlRegex, 2),
            '=' if next == Some('~') => {
                return err(
                    start..start + 2,
                    "unexpected character after '=': '~'".into(),
                )
            }
            '=' if next == Some('=') && !brace_open => (Tok::Op(BinOp::Eql), 2),
            '=' => (Tok::Assign, 1),
            '!' => match next {
                Some('=') => (Tok::Op(BinOp::Neq), 2),
                Some('~') if brace_open => (Tok::NeqRegex, 2),
                Some(n) if brace_open => {
                    return err(
                        char_span,
                        format!("unexpected character after '!' inside braces: {n:?}"),
                    )
                }
                Some(n) => return err(char_span, format!("unexpected character after '!': {n:?}")),
                None => return err(char_span, "unexpected end of input after '!'".into()),
            },
            '{' if brace_open => return err(char_span, "unexpected left brace '{'".into()),
            '{' => {
                brace_open = true;
                (Tok::LBrace, 1)
            }
            '}' if brace_open => {
                brace_open = false;
                (Tok::RBrace, 1)
            }
            c if brace_open && (c.is_ascii_alphabetic() || c == '_') => {
                let word = label_ident(rest).map_or(&rest[..1], |(_, w)| w);
                (Tok::Ident(word.to_string()), word.len())
            }
            c if brace_open => {
                return err(
                    char_span,
                    format!("unexpected character inside braces: {c:?}"),
                )
            }
            '(' => {
                paren_depth += 1;
                (Tok::LParen, 1)
            }
            ')' if paren_depth == 0 => {
                return err(char_span, "unexpected right parenthesis ')'".into())
            }
            ')' => {
                paren_depth -= 1;
                (Tok::RParen, 1)
            }
            '[' if bracket_open => return err(char_span, "unexpected left bracket '['".into()),
            '[' => {
                bracket_open = true;
                (Tok::LBracket, 1)
            }
            ']' if !bracket_open => return err(char_span, "unexpected right bracket ']'".into()),
            ']' => {
                bracket_open = false;
                (Tok::RBracket, 1)
            }
            '@' => (Tok::At, 1),
            '+' => (Tok::Op(BinOp::Add), 1),
            '-' => (Tok::Op(BinOp::Sub), 1),
            '*' => (Tok::Op(BinOp::Mul), 1),
            '/' => (Tok::Op(BinOp::Div), 1),
            '%' => (Tok::Op(BinOp::Mod), 1),
            '^' => (Tok::Op(BinOp::Pow), 1),
            '>' if next == Some('=') => (Tok::Op(BinOp::Gte), 2),
            '>' => (Tok::Op(BinOp::Gtr), 1),
            '<' if next == Some('=') => (Tok::Op(BinOp::Lte), 2),
            '<' => (Tok::Op(BinOp::Lss), 1),
            ':' if bracket_open => (Tok::Colon, 1),
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|d| d.is_ascii_digit())) => {
                lex_number(q, start)?
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let lexer = if bracket_open { label_ident } else { ident };
                let Ok((_, word)) = lexer(rest) else {
                    return err(char_span, format!("unexpected character: {c:?}"));
                };
                let lower = word.to_ascii_lowercase();
                match lower.as_str() {
                    "atan2" => (Tok::Op(BinOp::Atan2), word.len()),
                    "inf" | "nan" => (
                        Tok::Number(literal::parse_number(word).unwrap_or(0.0)),
                        word.len(),
                    ),
                    _ => (Tok::Ident(word.to_string()), word.len()),
                }
            }
            c => return err(char_span, format!("unexpected character: {c:?}")),
        };
        pos += len;
        toks.push(Token {
            tok,
            span: start..pos,
        });
    }
}

/// Prometheus's error for a string holding bytes that are not UTF-8 (or
/// U+FFFD, which Go cannot tell from them).
pub(crate) const INVALID_UTF8: &str = "invalid UTF-8 rune";

/// Reads a quoted string starting at `start` (the opening quote). Returns
/// the unescaped value and the length including quotes.
fn lex_string(q: &str, start: usize, quote: char) -> Result<(String, usize), ParseError> {
    let body_start = start + 1;
    let mut iter = q[body_start..].char_indices();
    while let Some((i, c)) = iter.next() {
        if c == quote {
            let body = &q[body_start..body_start + i];
            // Bytes that were not UTF-8 in a request are U+FFFD by now
            // (lossy form decoding); Go's lexer sees that rune either way.
            if body.contains(char::REPLACEMENT_CHARACTER) {
                return Err(ParseError::new(q, start..body_start + i + 1, INVALID_UTF8));
            }
            let s = literal::unquote(body, quote).map_err(|e| {
                let span = start..body_start + i + 1;
                let literal::UnquoteError::Escape(msg) = e;
                ParseError::new(q, span, msg)
            })?;
            return Ok((s, i + 2));
        }
        if quote != '`' {
            if c == '\\' {
                iter.next();
            } else if c == '\n' {
                break;
            }
        }
    }
    let msg = if quote == '`' {
        "unterminated raw string"
    } else {
        "unterminated quoted string"
    };
    Err(ParseError::new(q, start..q.len(), msg))
}

/// Reads a duration (`1h30m`) or a number (`1.5e3`, `0x1f`) at `start`.
fn lex_number(q: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let rest = &q[start..];
    let bad = || {
        let end = rest
            .find(|c: char| !(is_word_char(c) || c == '.'))
            .unwrap_or(rest.len());
        Err(ParseError::new(
            q,
            start..start + end,
            format!("bad number or duration syntax: {:?}", &rest[..end]),
        ))
    };
    if let Ok((after, text)) = literal::duration_text(rest) {
        if !after.starts_with(|c: char| is_word_char(c) || c == '.') {
            return match literal::parse_duration(text) {
                Some(ms) => Ok((Tok::Duration(ms), text.len())),
                None => Err(ParseError::new(
                    q,
                    start..start + text.len(),
                    format!("not a valid duration string: {text:?}"),
                )),
            };
        }
    }
    match literal::number_text(rest) {
        Ok((after, text)) if !after.starts_with(|c: char| is_word_char(c) || c == '.') => {
            match literal::parse_number(text) {
                Some(f) => Ok((Tok::Number(f), text.len())),
                None => bad(),
            }
        }
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<Tok> {
        let l = lex(q);
        assert!(l.error.is_none(), "{q}: {:?}", l.error);
        l.toks.into_iter().map(|t| t.tok).collect()
    }

    fn lex_err(q: &str) -> String {
        lex(q).error.unwrap_or_else(|| panic!("{q} lexed")).msg
    }

    #[test]
    fn basic_tokens() {
        assert_eq!(
            kinds("foo:bar{a=~\"x\"}[5m:1m] # c\n+ 1.5e3"),
            vec![
                Tok::Ident("foo:bar".into()),
                Tok::LBrace,
                Tok::Ident("a".into()),
                Tok::EqlRegex,
                Tok::Str("x".into()),
                Tok::RBrace,
                Tok::LBracket,
                Tok::Duration(300_000),
                Tok::Colon,
                Tok::Duration(60_000),
                Tok::RBracket,
                Tok::Op(BinOp::Add),
                Tok::Number(1500.0),
                Tok::Eof
            ]
        );
        assert_eq!(kinds("0x1F")[0], Tok::Number(31.0));
        assert_eq!(kinds("1_000")[0], Tok::Number(1000.0));
        assert_eq!(kinds("INF")[0], Tok::Number(f64::INFINITY));
        assert_eq!(kinds("`a\\n`")[0], Tok::Str("a\\n".into()));
        assert_eq!(kinds("1h30m")[0], Tok::Duration(5_400_000));
    }

    #[test]
    fn errors() {
        for (q, msg) in [
            ("\"abc", "unterminated quoted string"),
            ("`abc", "unterminated raw string"),
            ("'a\nb'", "unterminated quoted string"),
            ("5x", "bad number or duration syntax: \"5x\""),
            ("a ! b", "unexpected character after '!': ' '"),
            ("a =~ b", "unexpected character after '=': '~'"),
            (
                "{a !x}",
                "unexpected character after '!' inside braces: 'x'",
            ),
            ("{a $}", "unexpected character inside braces: '$'"),
            ("{a {", "unexpected left brace '{'"),
            ("{a=\"b\"", "unexpected end of input inside braces"),
            ("a $ b", "unexpected character: '$'"),
            ("1m1h", "not a valid duration string: \"1m1h\""),
            ("(a", "unclosed left parenthesis"),
            ("a)", "unexpected right parenthesis ')'"),
            ("a[5m", "unclosed left bracket"),
            ("a]", "unexpected right bracket ']'"),
            ("a[[", "unexpected left bracket '['"),
            ("\"\\q\"", "unknown escape sequence U+0071 'q'"),
            (
                "\"\\x4g\"",
                "illegal character U+0067 'g' in escape sequence",
            ),
            (
                "\"\\ud800\"",
                "escape sequence is an invalid Unicode code point",
            ),
        ] {
            assert_eq!(lex_err(q), msg, "{q}");
        }
        // Bytes that are not UTF-8 lex; they are rejected where they are
        // used (e.g. as a label name), as in Prometheus.
        assert!(lex("\"\\xc5\"").error.is_none());
        // Lexing stops at the error; the tokens before it are kept.
        let l = lex("foo + )");
        assert_eq!(l.toks.len(), 3);
        assert_eq!(l.toks[2].span, 6..6);
    }

    #[test]
    fn inside_braces_words_are_plain() {
        assert_eq!(
            kinds("{inf=\"a\", by!~\"b\"}"),
            vec![
                Tok::LBrace,
                Tok::Ident("inf".into()),
                Tok::Assign,
                Tok::Str("a".into()),
                Tok::Comma,
                Tok::Ident("by".into()),
                Tok::NeqRegex,
                Tok::Str("b".into()),
                Tok::RBrace,
                Tok::Eof
            ]
        );
    }
}
