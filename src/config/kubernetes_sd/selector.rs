//! The Kubernetes selector grammars a `selectors:` entry is written in,
//! checked as the API machinery Prometheus links checks them (so a
//! selector the API server would refuse is refused at load time, with
//! the same words): label selectors (`app=web,tier!=db`, `env in (a,b)`,
//! `!canary`, `replicas>2`) and field selectors (`spec.nodeName=n1`).
//! The strings themselves are sent to the API server unchanged.

use std::sync::OnceLock;

use regex::Regex;

/// Checks a field selector: comma-separated `key=value`, `key==value` or
/// `key!=value` terms, `\` escaping `\`, `,` and `=` in values.
pub(super) fn check_field(selector: &str) -> Result<(), String> {
    for term in split_unescaped(selector, ',') {
        if term.is_empty() {
            continue;
        }
        let Some(value) = field_value(term) else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{term}'"
            ));
        };
        check_escapes(value)?;
    }
    Ok(())
}

/// `s` split at every `sep` that is not escaped by a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The value after a term's first operator (`!=`, `==` or `=`, looked
/// for outside escapes), or `None` when it has none.
fn field_value(term: &str) -> Option<&str> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some(&term[i + op.len()..]);
            }
        }
        i += 1;
    }
    None
}

fn check_escapes(value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\' | ',' | '=') => {}
                Some(other) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ))
                }
                None => {
                    return Err("invalid field selector: invalid escape sequence: \\".to_string())
                }
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A token of the label selector language.
#[derive(Clone, Debug, PartialEq)]
enum Token<'a> {
    Ident(&'a str),
    /// `in` or `notin`: identifiers where a value is expected.
    Keyword(&'a str),
    Op(&'a str),
    Bang,
    Open,
    Close,
    Comma,
    End,
}

impl Token<'_> {
    /// How the token reads in an error message.
    fn text(&self) -> &str {
        match self {
            Token::Ident(s) | Token::Keyword(s) | Token::Op(s) => s,
            Token::Bang => "!",
            Token::Open => "(",
            Token::Close => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }
}

const SPECIAL: &[char] = &['=', '!', '(', ')', ',', '>', '<'];

fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        let len = if SPECIAL.contains(&c) {
            let two = rest.get(..2).filter(|t| matches!(*t, "==" | "!="));
            let text = two.unwrap_or(&rest[..1]);
            out.push(match text {
                "!" => Token::Bang,
                "(" => Token::Open,
                ")" => Token::Close,
                "," => Token::Comma,
                op => Token::Op(op),
            });
            text.len()
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || SPECIAL.contains(&c))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            out.push(match word {
                "in" | "notin" => Token::Keyword(word),
                _ => Token::Ident(word),
            });
            end
        };
        rest = rest[len..].trim_start();
    }
    out.push(Token::End);
    out
}

/// Parses a label selector as `labels.Parse` does.
pub(super) fn check_label(selector: &str) -> Result<(), String> {
    let tokens = tokenize(selector);
    let mut p = LabelParser { tokens, pos: 0 };
    loop {
        match p.peek_value() {
            Token::Ident(_) | Token::Bang => {
                p.requirement()?;
                match p.next_value() {
                    Token::End => return Ok(()),
                    Token::Comma => {
                        let t = p.peek_value();
                        if !matches!(t, Token::Ident(_) | Token::Bang) {
                            return Err(format!(
                                "found '{}', expected: identifier after ','",
                                t.text()
                            ));
                        }
                    }
                    t => {
                        return Err(format!(
                            "found '{}', expected: ',' or 'end of string'",
                            t.text()
                        ))
                    }
                }
            }
            Token::End => return Ok(()),
            t => {
                return Err(format!(
                    "found '{}', expected: !, identifier, or 'end of string'",
                    t.text()
                ))
            }
        }
    }
}

struct LabelParser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> LabelParser<'a> {
    /// The next token as a value position sees it: `in` and `notin` are
    /// plain identifiers there.
    fn peek_value(&self) -> Token<'a> {
        match self.tokens[self.pos].clone() {
            Token::Keyword(k) => Token::Ident(k),
            t => t,
        }
    }

    fn next_value(&mut self) -> Token<'a> {
        let t = self.peek_value();
        self.advance();
        t
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn requirement(&mut self) -> Result<(), String> {
        let mut t = self.next_value();
        let negated = t == Token::Bang;
        if negated {
            t = self.next_value();
        }
        let Token::Ident(key) = t else {
            return Err(format!("found '{}', expected: identifier", t.text()));
        };
        check_key(key)?;
        if negated || matches!(self.peek_value(), Token::End | Token::Comma) {
            return Ok(());
        }
        let op = self.tokens[self.pos].clone();
        self.advance();
        let values = match op {
            Token::Keyword(_) => self.value_set()?,
            Token::Op("=" | "==" | "!=" | ">" | "<") => self.exact_value()?,
            t => {
                return Err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    t.text()
                ))
            }
        };
        if matches!(op, Token::Op(">" | "<")) {
            if let Some((i, v)) = values
                .iter()
                .enumerate()
                .find(|(_, v)| v.parse::<i64>().is_err())
            {
                return Err(format!(
                    "values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                ));
            }
        }
        for (i, v) in values.iter().enumerate() {
            check_value(key, i, v)?;
        }
        Ok(())
    }

    /// `( v1, v2 )`; empty entries are empty values.
    fn value_set(&mut self) -> Result<Vec<&'a str>, String> {
        let t = self.next_value();
        if t != Token::Open {
            return Err(format!("found '{}' expected: '('", t.text()));
        }
        match self.peek_value() {
            Token::Close => {
                self.advance();
                return Ok(vec![""]);
            }
            Token::Ident(_) | Token::Comma => {}
            t => {
                return Err(format!(
                    "found '{}', expected: ',', ')' or identifier",
                    t.text()
                ))
            }
        }
        let mut values = Vec::new();
        loop {
            match self.next_value() {
                Token::Ident(v) => {
                    values.push(v);
                    match self.peek_value() {
                        Token::Comma => continue,
                        Token::Close => break,
                        t => return Err(format!("found '{}', expected: ',' or ')'", t.text())),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push("");
                    }
                    match self.peek_value() {
                        Token::Close => {
                            values.push("");
                            break;
                        }
                        Token::Comma => {
                            self.advance();
                            values.push("");
                        }
                        _ => {}
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        t.text()
                    ))
                }
            }
        }
        let t = self.next_value();
        if t != Token::Close {
            return Err(format!("found '{}', expected: ')'", t.text()));
        }
        Ok(values)
    }

    fn exact_value(&mut self) -> Result<Vec<&'a str>, String> {
        match self.peek_value() {
            Token::End | Token::Comma => Ok(vec![""]),
            Token::Ident(v) => {
                self.advance();
                Ok(vec![v])
            }
            t => Err(format!("found '{}', expected: identifier", t.text())),
        }
    }
}

const NAME_RE: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const SUBDOMAIN_RE: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

fn anchored(re: &'static OnceLock<Regex>, src: &str) -> &'static Regex {
    re.get_or_init(|| Regex::new(&format!("^(?:{src})$")).expect("static regex"))
}

/// A label key: a name of at most 63 characters, optionally after a
/// DNS-subdomain prefix and `/`.
fn check_key(key: &str) -> Result<(), String> {
    static NAME: OnceLock<Regex> = OnceLock::new();
    static SUBDOMAIN: OnceLock<Regex> = OnceLock::new();
    let invalid = |msg: String| format!("key: Invalid value: {key:?}: {msg}");
    let (prefix, name) = match key.split('/').collect::<Vec<_>>()[..] {
        [name] => (None, name),
        [prefix, name] => (Some(prefix), name),
        _ => {
            return Err(invalid(format!(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{NAME_RE}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )))
        }
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err(invalid("prefix part must be non-empty".into()));
        }
        if prefix.len() > 253 {
            return Err(invalid(
                "prefix part must be no more than 253 characters".into(),
            ));
        }
        if !anchored(&SUBDOMAIN, SUBDOMAIN_RE).is_match(prefix) {
            return Err(invalid(format!("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{SUBDOMAIN_RE}')")));
        }
    }
    if name.is_empty() {
        return Err(invalid("name part must be non-empty".into()));
    }
    if name.len() > 63 {
        return Err(invalid(
            "name part must be no more than 63 characters".into(),
        ));
    }
    if !anchored(&NAME, NAME_RE).is_match(name) {
        return Err(invalid(format!("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{NAME_RE}')")));
    }
    Ok(())
}

/// A label value: empty, or a name of at most 63 characters.
fn check_value(key: &str, index: usize, value: &str) -> Result<(), String> {
    static VALUE: OnceLock<Regex> = OnceLock::new();
    let invalid = |msg: &str| format!("values[{index}][{key}]: Invalid value: {value:?}: {msg}");
    if value.len() > 63 {
        return Err(invalid("must be no more than 63 characters"));
    }
    if !anchored(&VALUE, &format!("({NAME_RE})?")).is_match(value) {
        return Err(invalid(&format!("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(({NAME_RE})?'")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_the_api_accepts() {
        for s in [
            "",
            "app",
            "!canary",
            "app=web",
            "app==web",
            "app!=web",
            "app.kubernetes.io/name=web,tier notin (db, cache)",
            "env in (prod,staging)",
            "env in ()",
            "env in (,a)",
            "env in (a,,b)",
            "x=",
            "x=,y",
            "replicas>2",
            "replicas < 10",
            "k = in",
            " app = web , !legacy ",
        ] {
            assert_eq!(check_label(s), Ok(()), "{s:?}");
        }
    }

    #[test]
    fn label_selectors_the_api_refuses() {
        for (s, want) in [
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a,", "found '', expected: identifier after ','"),
            (",a", "found ',', expected: !, identifier, or 'end of string'"),
            ("!", "found '', expected: identifier"),
            ("a in b", "found 'b' expected: '('"),
            ("a in (b", "found '', expected: ',' or ')'"),
            ("a in (=)", "found '=', expected: ',', ')' or identifier"),
            ("a=(", "found '(', expected: identifier"),
            ("a(b)", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ("a>b", "values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"),
            ("-a=b", "key: Invalid value: \"-a\": name part must consist of"),
            ("a/b/c", "a qualified name must consist of"),
            ("Ex.com/a", "prefix part a lowercase RFC 1123 subdomain"),
            ("/a", "prefix part must be non-empty"),
            ("a=b.", "values[0][a]: Invalid value: \"b.\": a valid label must be"),
            ("a in (x,-y)", "values[1][a]: Invalid value: \"-y\""),
        ] {
            let e = check_label(s).unwrap_err();
            assert!(e.contains(want), "{s:?}: {e}");
        }
        let long = format!("a={}", "v".repeat(64));
        assert!(check_label(&long).unwrap_err().contains("no more than 63"));
    }

    #[test]
    fn field_selectors() {
        for s in [
            "",
            "spec.nodeName=n1",
            "metadata.name!=x,status.phase==Running",
            r"metadata.name=a\,b\=c\\",
            "a=",
            ",a=b,",
        ] {
            assert_eq!(check_field(s), Ok(()), "{s:?}");
        }
        for (s, want) in [
            (
                "spec.nodeName",
                "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'",
            ),
            ("a=b,c", "can't understand 'c'"),
            (
                r"a=b\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            ("a=b\\", r"invalid escape sequence: \"),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ] {
            let e = check_field(s).unwrap_err();
            assert!(e.contains(want), "{s:?}: {e}");
        }
    }
}
