//! The template lexer: splits text into literal runs and the tokens inside
//! `{{ }}` actions, applying trim markers and dropping comments, as Go's
//! `text/template/parse` lexer does.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Ident,
    Field,
    Var,
    Dot,
    Str,
    RawStr,
    CharConst,
    Number,
    Bool,
    Nil,
    Keyword,
    Declare,
    Assign,
    Pipe,
    LeftParen,
    RightParen,
    /// Other printable ASCII punctuation, such as `,`.
    Char,
    Eof,
    /// A lexing error; `val` is the message and nothing follows.
    Error,
}

/// A token: its kind, its byte offset in the source and its text.
#[derive(Clone, Debug)]
pub struct Item {
    pub kind: Kind,
    pub pos: usize,
    pub val: String,
}

impl std::fmt::Display for Item {
    /// How Go's parse errors quote a token (`unexpected "x" in command`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            Kind::Keyword => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let short: String = self.val.chars().take(10).collect();
                let quoted = super::printf::quote(&short);
                write!(f, "{}...", quoted)
            }
            _ => f.write_str(&super::printf::quote(&self.val)),
        }
    }
}

const KEYWORDS: [&str; 9] = [
    "block", "break", "continue", "define", "else", "end", "if", "range", "template",
];

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Go's `%#U`: `U+0021 '!'`.
fn unicode_spelling(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

/// Splits `src` into tokens, ending with `Eof` or at the first `Error`.
pub fn lex(src: &str) -> Vec<Item> {
    let mut lx = Lexer {
        src,
        pos: 0,
        items: Vec::new(),
        trim_next: false,
        parens: 0,
    };
    lx.run();
    lx.items
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    items: Vec<Item>,
    /// The previous action ended with ` -}}`: trim the next text's start.
    trim_next: bool,
    parens: i32,
}

impl Lexer<'_> {
    fn emit(&mut self, kind: Kind, pos: usize, val: &str) {
        self.items.push(Item {
            kind,
            pos,
            val: val.to_string(),
        });
    }

    fn error(&mut self, pos: usize, msg: String) {
        self.items.push(Item {
            kind: Kind::Error,
            pos,
            val: msg,
        });
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn run(&mut self) {
        loop {
            let start = self.pos;
            let Some(at) = self.rest().find("{{").map(|i| i + start) else {
                let mut text = &self.src[start..];
                if self.trim_next {
                    text = text.trim_start_matches(is_space);
                }
                if !text.is_empty() {
                    let pos = self.src.len() - text.len();
                    self.emit(Kind::Text, pos, text);
                }
                self.emit(Kind::Eof, self.src.len(), "");
                return;
            };
            let after = &self.src[at + 2..];
            let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
            let mut text = &self.src[start..at];
            let mut text_pos = start;
            if std::mem::take(&mut self.trim_next) {
                let trimmed = text.trim_start_matches(is_space);
                text_pos += text.len() - trimmed.len();
                text = trimmed;
            }
            if trim_left {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                self.emit(Kind::Text, text_pos, text);
            }
            self.pos = at + 2 + if trim_left { 2 } else { 0 };
            if self.rest().starts_with("/*") {
                if !self.comment(at) {
                    return;
                }
                continue;
            }
            self.emit(Kind::LeftDelim, at, "{{");
            if !self.inside_action() {
                return;
            }
        }
    }

    /// At `/*` just after a left delimiter; false after an error.
    fn comment(&mut self, at: usize) -> bool {
        let Some(end) = self.rest().find("*/") else {
            self.error(at, "unclosed comment".into());
            return false;
        };
        self.pos += end + 2;
        match self.right_delim() {
            Some((len, trim)) => {
                self.pos += len;
                self.trim_next = trim;
                true
            }
            None => {
                self.error(self.pos, "comment ends before closing delimiter".into());
                false
            }
        }
    }

    /// At a right delimiter: its length and whether it trims (` -}}`).
    fn right_delim(&self) -> Option<(usize, bool)> {
        let r = self.rest();
        if r.starts_with("}}") {
            return Some((2, false));
        }
        let mut chars = r.chars();
        if chars.next().is_some_and(is_space) && r[1..].starts_with("-}}") {
            return Some((4, true));
        }
        None
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) || ".,|:)(".contains(c) => true,
            _ => self.rest().starts_with("}}"),
        }
    }

    /// Lexes one action's tokens; false after an error.
    fn inside_action(&mut self) -> bool {
        loop {
            if let Some((len, trim)) = self.right_delim() {
                if self.parens > 0 {
                    self.error(self.pos, "unclosed left paren".into());
                    return false;
                }
                self.emit(Kind::RightDelim, self.pos, "}}");
                self.pos += len;
                self.trim_next = trim;
                return true;
            }
            let start = self.pos;
            let Some(c) = self.peek() else {
                self.error(start, "unclosed action".into());
                return false;
            };
            let ok = match c {
                _ if is_space(c) => {
                    let n = self
                        .rest()
                        .find(|c: char| !is_space(c))
                        .unwrap_or(self.rest().len());
                    // Leave the last space if it starts a ` -}}` marker.
                    let end = start + n;
                    let keep = if self.src[end..].starts_with("-}}") {
                        n - 1
                    } else {
                        n
                    };
                    if keep > 0 {
                        self.pos += keep;
                        self.emit(Kind::Space, start, &self.src[start..start + keep]);
                    }
                    true
                }
                '=' => self.single(Kind::Assign, 1),
                ':' => {
                    if self.rest().starts_with(":=") {
                        self.single(Kind::Declare, 2)
                    } else {
                        self.error(start, "expected :=".into());
                        false
                    }
                }
                '|' => self.single(Kind::Pipe, 1),
                '"' => self.quoted(),
                '`' => self.raw(),
                '\'' => self.char_const(),
                '$' => {
                    self.pos += 1;
                    self.word(start, Kind::Var)
                }
                '.' => {
                    if self.rest()[1..].starts_with(|c: char| c.is_ascii_digit()) {
                        self.number()
                    } else {
                        self.pos += 1;
                        self.word(start, Kind::Field)
                    }
                }
                '+' | '-' | '0'..='9' => self.number(),
                '(' => {
                    self.parens += 1;
                    self.single(Kind::LeftParen, 1)
                }
                ')' => {
                    self.parens -= 1;
                    if self.parens < 0 {
                        self.error(start, "unexpected right paren".into());
                        false
                    } else {
                        self.single(Kind::RightParen, 1)
                    }
                }
                c if is_alnum(c) => self.word(start, Kind::Ident),
                c if c.is_ascii_graphic() => self.single(Kind::Char, 1),
                c => {
                    self.error(
                        start,
                        format!("unrecognized character in action: {}", unicode_spelling(c)),
                    );
                    false
                }
            };
            if !ok {
                return false;
            }
        }
    }

    fn single(&mut self, kind: Kind, len: usize) -> bool {
        let start = self.pos;
        self.pos += len;
        self.emit(kind, start, &self.src[start..self.pos]);
        true
    }

    /// An identifier, `.field` or `$var` (the sigil already consumed).
    fn word(&mut self, start: usize, kind: Kind) -> bool {
        let n = self
            .rest()
            .find(|c: char| !is_alnum(c))
            .unwrap_or(self.rest().len());
        self.pos += n;
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(self.pos, format!("bad character {}", unicode_spelling(c)));
            return false;
        }
        let word = &self.src[start..self.pos];
        let kind = match kind {
            Kind::Field if n == 0 => Kind::Dot,
            Kind::Ident if KEYWORDS.contains(&word) || word == "with" => Kind::Keyword,
            Kind::Ident if word == "true" || word == "false" => Kind::Bool,
            Kind::Ident if word == "nil" => Kind::Nil,
            k => k,
        };
        self.emit(kind, start, word);
        true
    }

    fn number(&mut self) -> bool {
        let start = self.pos;
        let b = self.src.as_bytes();
        let mut i = self.pos;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        let mut exp: &[u8] = b"eE";
        if i + 1 < b.len() && b[i] == b'0' {
            match b[i + 1] {
                b'x' | b'X' => {
                    digits = b"0123456789abcdefABCDEF_";
                    exp = b"pP";
                    i += 2;
                }
                b'o' | b'O' => {
                    digits = b"01234567_";
                    i += 2;
                }
                b'b' | b'B' => {
                    digits = b"01_";
                    i += 2;
                }
                _ => {}
            }
        }
        let run = |i: &mut usize, set: &[u8]| {
            while *i < b.len() && set.contains(&b[*i]) {
                *i += 1;
            }
        };
        run(&mut i, digits);
        if i < b.len() && b[i] == b'.' {
            i += 1;
            run(&mut i, digits);
        }
        if i < b.len() && exp.contains(&b[i]) && digits.len() != 3 && digits.len() != 9 {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            run(&mut i, b"0123456789_");
        }
        self.pos = i;
        if self.peek().is_some_and(is_alnum) {
            let end = self
                .rest()
                .find(|c: char| !is_alnum(c))
                .map_or(self.src.len(), |n| n + self.pos);
            self.error(
                start,
                format!("bad number syntax: {:?}", &self.src[start..end]),
            );
            return false;
        }
        self.emit(Kind::Number, start, &self.src[start..i]);
        true
    }

    fn quoted(&mut self) -> bool {
        self.delimited('"', Kind::Str, "unterminated quoted string")
    }

    /// A `"..."` string or `'.'` character: backslash escapes, one line.
    fn delimited(&mut self, delim: char, kind: Kind, unterminated: &str) -> bool {
        let start = self.pos;
        let mut escaped = false;
        for (i, c) in self.rest().char_indices().skip(1) {
            match c {
                '\n' => break,
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == delim => {
                    self.pos += i + 1;
                    self.emit(kind, start, &self.src[start..self.pos]);
                    return true;
                }
                _ => {}
            }
        }
        self.error(start, unterminated.into());
        false
    }

    fn raw(&mut self) -> bool {
        let start = self.pos;
        match self.rest()[1..].find('`') {
            Some(n) => {
                self.pos += n + 2;
                self.emit(Kind::RawStr, start, &self.src[start..self.pos]);
                true
            }
            None => {
                self.error(start, "unterminated raw quoted string".into());
                false
            }
        }
    }

    fn char_const(&mut self) -> bool {
        self.delimited('\'', Kind::CharConst, "unterminated character constant")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|i| (i.kind, i.val)).collect()
    }

    #[test]
    fn splits_text_and_actions() {
        use Kind::*;
        let got = kinds("a {{ $x := .Labels.job | printf \"%s\" }}b");
        let want = [
            (Text, "a "),
            (LeftDelim, "{{"),
            (Space, " "),
            (Var, "$x"),
            (Space, " "),
            (Declare, ":="),
            (Space, " "),
            (Field, ".Labels"),
            (Field, ".job"),
            (Space, " "),
            (Pipe, "|"),
            (Space, " "),
            (Ident, "printf"),
            (Space, " "),
            (Str, "\"%s\""),
            (Space, " "),
            (RightDelim, "}}"),
            (Text, "b"),
            (Eof, ""),
        ];
        let want: Vec<(Kind, String)> = want.iter().map(|(k, v)| (*k, v.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn trim_markers_and_comments() {
        let texts: Vec<String> = lex("a  {{- 1 -}}  b {{/* c */}} d {{- /* e */ -}}\n f")
            .into_iter()
            .filter(|i| i.kind == Kind::Text)
            .map(|i| i.val)
            .collect();
        assert_eq!(texts, ["a", "b ", " d", "f"]);
        // `{{-3}}` is the number -3, not a trim marker.
        assert!(lex("{{-3}}")
            .iter()
            .any(|i| i.kind == Kind::Number && i.val == "-3"));
    }

    #[test]
    fn errors_end_the_stream() {
        for (src, msg) in [
            ("{{ .x", "unclosed action"),
            ("{{ \"abc }}", "unterminated quoted string"),
            ("{{ ) }}", "unexpected right paren"),
            ("{{ ( }}", "unclosed left paren"),
            ("{{/* x }}", "unclosed comment"),
            ("{{/* x */ y }}", "comment ends before closing delimiter"),
            ("{{ 3x }}", "bad number syntax: \"3x\""),
            ("{{ a : }}", "expected :="),
            ("{{ € }}", "unrecognized character in action: U+20AC '€'"),
        ] {
            let items = lex(src);
            let last = items.last().unwrap();
            assert_eq!((last.kind, last.val.as_str()), (Kind::Error, msg), "{src}");
        }
    }
}
