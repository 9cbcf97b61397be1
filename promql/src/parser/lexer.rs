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

/// Tokenizes the whole query; the last token is always [`Tok::Eof`].
pub fn lex(q: &str) -> Result<Vec<Token>, ParseError> {
    let mut toks = Vec::new();
    let mut pos = 0;
    let mut bracket_open = false;
    let err = |span: Range<usize>, msg: String| Err(ParseError::new(q, span, msg));
    while pos < q.len() {
        let rest = &q[pos..];
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            pos += c.len_utf8();
            continue;
        }
        if c == '#' {
            pos += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        let start = pos;
        let two = rest.get(..2).unwrap_or("");
        let (tok, len) = match two {
            "==" => (Tok::Op(BinOp::Eql), 2),
            "!=" => (Tok::Op(BinOp::Neq), 2),
            ">=" => (Tok::Op(BinOp::Gte), 2),
            "<=" => (Tok::Op(BinOp::Lte), 2),
            "=~" => (Tok::EqlRegex, 2),
            "!~" => (Tok::NeqRegex, 2),
            _ => match c {
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '{' => (Tok::LBrace, 1),
                '}' => (Tok::RBrace, 1),
                '[' => {
                    bracket_open = true;
                    (Tok::LBracket, 1)
                }
                ']' => {
                    bracket_open = false;
                    (Tok::RBracket, 1)
                }
                ',' => (Tok::Comma, 1),
                '@' => (Tok::At, 1),
                '=' => (Tok::Assign, 1),
                '+' => (Tok::Op(BinOp::Add), 1),
                '-' => (Tok::Op(BinOp::Sub), 1),
                '*' => (Tok::Op(BinOp::Mul), 1),
                '/' => (Tok::Op(BinOp::Div), 1),
                '%' => (Tok::Op(BinOp::Mod), 1),
                '^' => (Tok::Op(BinOp::Pow), 1),
                '>' => (Tok::Op(BinOp::Gtr), 1),
                '<' => (Tok::Op(BinOp::Lss), 1),
                ':' if bracket_open => (Tok::Colon, 1),
                '!' => {
                    let next = rest[1..].chars().next();
                    return match next {
                        Some(n) => err(
                            start..start + 1 + n.len_utf8(),
                            format!("unexpected character after '!': {n:?}"),
                        ),
                        None => err(start..start + 1, "unexpected end of input after '!'".into()),
                    };
                }
                '"' | '\'' | '`' => {
                    let (s, len) = lex_string(q, start, c)?;
                    (Tok::Str(s), len)
                }
                c if c.is_ascii_digit()
                    || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) =>
                {
                    lex_number(q, start)?
                }
                c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                    let lexer = if bracket_open { label_ident } else { ident };
                    let Ok((_, word)) = lexer(rest) else {
                        return err(start..start + 1, format!("unexpected character: {c:?}"));
                    };
                    let lower = word.to_ascii_lowercase();
                    match lower.as_str() {
                        "atan2" => (Tok::Op(BinOp::Atan2), word.len()),
                        "inf" | "nan" => {
                            (Tok::Number(literal::parse_number(word).unwrap_or(0.0)), word.len())
                        }
                        _ => (Tok::Ident(word.to_string()), word.len()),
                    }
                }
                c => {
                    return err(
                        start..start + c.len_utf8(),
                        format!("unexpected character: {c:?}"),
                    )
                }
            },
        };
        pos += len;
        toks.push(Token {
            tok,
            span: start..pos,
        });
    }
    toks.push(Token {
        tok: Tok::Eof,
        span: q.len()..q.len(),
    });
    Ok(toks)
}

/// Reads a quoted string starting at `start` (the opening quote). Returns
/// the unescaped value and the length including quotes.
fn lex_string(q: &str, start: usize, quote: char) -> Result<(String, usize), ParseError> {
    let body_start = start + 1;
    let mut iter = q[body_start..].char_indices();
    while let Some((i, c)) = iter.next() {
        if c == quote {
            let body = &q[body_start..body_start + i];
            let s = literal::unquote(body, quote).map_err(|e| {
                ParseError::new(q, start..body_start + i + 1, format!("error unquoting string {}: {e}", &q[start..body_start + i + 1]))
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
    Err(ParseError::new(q, start..q.len(), "unterminated quoted string"))
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
        lex(q).unwrap().into_iter().map(|t| t.tok).collect()
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
        assert_eq!(kinds("INF")[0], Tok::Number(f64::INFINITY));
        assert_eq!(kinds("`a\\n`")[0], Tok::Str("a\\n".into()));
        assert_eq!(kinds("1h30m")[0], Tok::Duration(5_400_000));
    }

    #[test]
    fn errors() {
        for (q, msg) in [
            ("\"abc", "unterminated quoted string"),
            ("5x", "bad number or duration syntax: \"5x\""),
            ("a ! b", "unexpected character after '!': ' '"),
            ("a $ b", "unexpected character: '$'"),
            ("1m1h", "not a valid duration string: \"1m1h\""),
        ] {
            assert_eq!(lex(q).unwrap_err().msg, msg, "{q}");
        }
        assert_eq!(lex("'a\nb'").unwrap_err().msg, "unterminated quoted string");
    }
}
