//! The template parser: tokens to a tree of [`Node`]s, with the checks Go
//! makes at parse time (functions defined, variables declared, `break`
//! inside `range`, balanced `{{end}}`s).

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::error::ParseError;
use super::lex::{lex, Item, Kind};

/// Nesting limit for parentheses and control structures: deep enough for
/// any real template, shallow enough that recursion stays off the stack's
/// edge.
const MAX_NESTING: usize = 100;

/// A statement of the template body.
#[derive(Debug)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// The shared shape of `if`, `with` and `range`.
#[derive(Debug)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Debug)]
pub struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

/// One pipeline stage: a function or value followed by its arguments.
#[derive(Debug)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Debug)]
pub enum Arg {
    Ident(usize, String),
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    /// The literal's text and whether Go treats it as an int constant.
    Number(usize, String, Number),
    /// The literal as written and its value.
    Str(usize, String, String),
    /// `$x.a.b`: the variable then fields.
    Var(usize, Vec<String>),
    /// `.a.b`.
    Field(usize, Vec<String>),
    Pipe(Box<Pipe>),
    /// `(pipeline).a.b` and other operands followed by fields.
    Chain(usize, Box<Arg>, Vec<String>),
}

/// A numeric literal's value.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Ident(p, _)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, ..)
            | Arg::Str(p, ..)
            | Arg::Var(p, _)
            | Arg::Field(p, _)
            | Arg::Chain(p, ..) => *p,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// Display reproduces Go's `Node.String()`, which execution errors quote
// as their context (`at <.Labels.x>`).
impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Ident(_, n) => f.write_str(n),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, text, _) | Arg::Str(_, text, _) => f.write_str(text),
            Arg::Var(_, names) => f.write_str(&names.join(".")),
            Arg::Field(_, names) => names.iter().try_for_each(|n| write!(f, ".{n}")),
            Arg::Pipe(p) => write!(f, "({p})"),
            Arg::Chain(_, node, names) => {
                match node.as_ref() {
                    Arg::Pipe(_) => write!(f, "{node}")?,
                    other => write!(f, "({other})")?,
                }
                names.iter().try_for_each(|n| write!(f, ".{n}"))
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match a {
                Arg::Pipe(p) => write!(f, "({p})")?,
                other => write!(f, "{other}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parsed template and the ones it defines, by name.
#[derive(Debug)]
pub struct Templates {
    pub trees: HashMap<String, Rc<Vec<Node>>>,
}

/// Parses `src` as the template `name`. `is_func` says which function
/// names exist.
pub fn parse(
    name: &str,
    src: &str,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<Templates, ParseError> {
    let mut p = Parser {
        name,
        src,
        items: lex(src),
        at: 0,
        last_pos: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
        is_func,
        trees: HashMap::new(),
    };
    let root = p.root()?;
    let mut trees = std::mem::take(&mut p.trees);
    // A body of only defines and blanks does not replace a definition
    // of the same name, as in Go.
    let empty = root
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()));
    if !empty || !trees.contains_key(name) {
        trees.insert(name.to_string(), Rc::new(root));
    }
    Ok(Templates { trees })
}

struct Parser<'a> {
    name: &'a str,
    src: &'a str,
    items: Vec<Item>,
    at: usize,
    last_pos: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    is_func: &'a dyn Fn(&str) -> bool,
    trees: HashMap<String, Rc<Vec<Node>>>,
}

/// What ended an item list.
enum Stop {
    End,
    Else(usize),
}

type R<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        let line = 1 + self.src[..self.last_pos.min(self.src.len())]
            .matches('\n')
            .count();
        Err(ParseError {
            location: format!("{}:{}", self.name, line),
            message: msg.into(),
        })
    }

    fn next(&mut self) -> Item {
        // Reading past the end keeps yielding Eof, and always advancing
        // keeps one-token backups exact there too.
        let item = self.items[self.at.min(self.items.len() - 1)].clone();
        self.at += 1;
        self.last_pos = item.pos;
        item
    }

    fn peek(&self) -> &Item {
        &self.items[self.at.min(self.items.len() - 1)]
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let item = self.next();
            if item.kind != Kind::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let save = self.at;
        let item = self.next_non_space();
        self.at = save;
        item
    }

    fn expect(&mut self, kind: Kind, context: &str) -> R<Item> {
        let item = self.next_non_space();
        if item.kind != kind {
            return self.unexpected(&item, context);
        }
        Ok(item)
    }

    fn unexpected<T>(&self, item: &Item, context: &str) -> R<T> {
        if item.kind == Kind::Error {
            return self.err(item.val.clone());
        }
        self.err(format!("unexpected {item} in {context}"))
    }

    fn nest(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(format!("template nested deeper than {MAX_NESTING} levels"));
        }
        Ok(())
    }

    fn root(&mut self) -> R<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            let item = self.peek().clone();
            match item.kind {
                Kind::Eof => return Ok(list),
                Kind::LeftDelim => {
                    let save = self.at;
                    self.next();
                    let kw = self.next_non_space();
                    if kw.kind == Kind::Keyword && kw.val == "define" {
                        self.definition()?;
                        continue;
                    }
                    self.at = save;
                }
                _ => {}
            }
            match self.text_or_action()? {
                Ok(node) => list.push(node),
                Err(Stop::End) => return self.err("unexpected {{end}}"),
                Err(Stop::Else(_)) => return self.err("unexpected {{else}}"),
            }
        }
    }

    fn definition(&mut self) -> R<()> {
        let item = self.next_non_space();
        let name = match item.kind {
            Kind::Str | Kind::RawStr => self.unquote(&item)?,
            _ => return self.unexpected(&item, "define clause"),
        };
        self.expect(Kind::RightDelim, "define clause")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, stop) = self.item_list()?;
        self.vars = saved;
        if let Stop::Else(_) = stop {
            return self.err("unexpected {{else}} in define clause");
        }
        self.add_tree(name, list);
        Ok(())
    }

    fn add_tree(&mut self, name: String, list: Vec<Node>) {
        let empty = list
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()));
        if !empty || !self.trees.contains_key(&name) {
            self.trees.insert(name, Rc::new(list));
        }
    }

    /// Nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> R<(Vec<Node>, Stop)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Ok(n) => list.push(n),
                Err(stop) => return Ok((list, stop)),
            }
        }
        self.next();
        self.err("unexpected EOF")
    }

    fn text_or_action(&mut self) -> R<Result<Node, Stop>> {
        let item = self.next_non_space();
        match item.kind {
            Kind::Text => Ok(Ok(Node::Text(item.val))),
            Kind::LeftDelim => self.action(),
            _ => self.unexpected(&item, "input"),
        }
    }

    fn action(&mut self) -> R<Result<Node, Stop>> {
        let item = self.next_non_space();
        if item.kind == Kind::Keyword {
            return match item.val.as_str() {
                "block" => self.block().map(Ok),
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return self.err(format!("{{{{{}}}}} outside {{{{range}}}}", item.val));
                    }
                    let close = self.next_non_space();
                    if close.kind != Kind::RightDelim {
                        return self.unexpected(&close, &format!("{{{{{}}}}}", item.val));
                    }
                    Ok(Ok(if item.val == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    }))
                }
                "else" => {
                    let next = self.peek_non_space();
                    if next.kind == Kind::Keyword && (next.val == "if" || next.val == "with") {
                        // `else if` / `else with`: leave the keyword for the
                        // enclosing control to pick up.
                        while self.peek().kind == Kind::Space {
                            self.next();
                        }
                        return Ok(Err(Stop::Else(item.pos)));
                    }
                    self.expect(Kind::RightDelim, "else")?;
                    Ok(Err(Stop::Else(item.pos)))
                }
                "end" => {
                    self.expect(Kind::RightDelim, "end")?;
                    Ok(Err(Stop::End))
                }
                "if" => self.control("if").map(|b| Ok(Node::If(b))),
                "range" => self.control("range").map(|b| Ok(Node::Range(b))),
                "with" => self.control("with").map(|b| Ok(Node::With(b))),
                "template" => self.template().map(Ok),
                _ => self.unexpected(&item, "command"),
            };
        }
        self.at -= 1;
        while self.at > 0 && self.items[self.at - 1].kind == Kind::Space {
            self.at -= 1;
        }
        Ok(Ok(Node::Action(
            self.pipeline("command", Kind::RightDelim)?,
        )))
    }

    fn control(&mut self, context: &str) -> R<Branch> {
        self.nest()?;
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, stop) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Stop::Else(pos) = stop {
            let next = self.peek().clone();
            if next.kind == Kind::Keyword
                && (next.val == "if" && context == "if" || next.val == "with" && context == "with")
            {
                self.next();
                let inner = self.control(context)?;
                let node = if context == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                };
                else_list = Some(vec![node]);
            } else {
                let _ = pos;
                let (list, stop) = self.item_list()?;
                if let Stop::Else(_) = stop {
                    return self.err("expected end; found {{else}}");
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template(&mut self) -> R<Node> {
        let item = self.next_non_space();
        let name = match item.kind {
            Kind::Str | Kind::RawStr => self.unquote(&item)?,
            _ => return self.unexpected(&item, "template clause"),
        };
        let mut pipe = None;
        if self.peek_non_space().kind != Kind::RightDelim {
            pipe = Some(self.pipeline("template clause", Kind::RightDelim)?);
        } else {
            self.next_non_space();
        }
        Ok(Node::Template {
            pos: item.pos,
            name,
            pipe,
        })
    }

    /// `{{block "name" pipeline}} body {{end}}`: defines `name` and runs it.
    fn block(&mut self) -> R<Node> {
        let item = self.next_non_space();
        let name = match item.kind {
            Kind::Str | Kind::RawStr => self.unquote(&item)?,
            _ => return self.unexpected(&item, "block clause"),
        };
        let pipe = self.pipeline("block clause", Kind::RightDelim)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, stop) = self.item_list()?;
        self.vars = saved;
        self.range_depth = saved_range;
        if let Stop::Else(_) = stop {
            return self.err("unexpected {{else}} in block clause");
        }
        self.add_tree(name.clone(), list);
        Ok(Node::Template {
            pos: item.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> R<Pipe> {
        self.nest()?;
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, and `$i, $v :=` in range.
        loop {
            let save = self.at;
            let v = self.peek_non_space();
            if v.kind != Kind::Var {
                break;
            }
            self.next_non_space();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Declare | Kind::Assign => {
                    self.next_non_space();
                    pipe.is_assign = next.kind == Kind::Assign;
                    if pipe.is_assign && !self.vars.contains(&v.val) {
                        return self.err(format!("undefined variable {:?}", v.val));
                    }
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        let k = self.peek_non_space().kind;
                        if matches!(k, Kind::Var | Kind::RightDelim | Kind::RightParen) {
                            continue;
                        }
                        return self.err("range can only initialize variables");
                    }
                    return self.err(format!("too many declarations in {context}"));
                }
                _ => {
                    self.at = save;
                    break;
                }
            }
        }
        loop {
            let item = self.next_non_space();
            match item.kind {
                k if k == end => {
                    if pipe.cmds.is_empty() {
                        return self.err(format!("missing value for {context}"));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args[0],
                            Arg::Bool(..)
                                | Arg::Dot(_)
                                | Arg::Nil(_)
                                | Arg::Number(..)
                                | Arg::Str(..)
                        ) {
                            return self.err(format!(
                                "non executable command in pipeline stage {}",
                                i + 1
                            ));
                        }
                    }
                    self.depth -= 1;
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConst
                | Kind::Dot
                | Kind::Field
                | Kind::Ident
                | Kind::Number
                | Kind::Nil
                | Kind::RawStr
                | Kind::Str
                | Kind::Var
                | Kind::LeftParen => {
                    self.at -= 1;
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&item, context),
            }
        }
    }

    fn command(&mut self) -> R<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            while self.peek().kind == Kind::Space {
                self.next();
            }
            if let Some(arg) = self.operand()? {
                args.push(arg);
            }
            let item = self.next();
            match item.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.at -= 1,
                Kind::Pipe => {}
                _ => return self.unexpected(&item, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.err("empty command");
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> R<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match term {
            Arg::Field(p, mut names) => {
                names.extend(fields);
                Arg::Field(p, names)
            }
            Arg::Var(p, mut names) => {
                names.extend(fields);
                Arg::Var(p, names)
            }
            Arg::Bool(..) | Arg::Str(..) | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                return self.err(format!("unexpected . after term {:?}", term.to_string()));
            }
            other => Arg::Chain(other.pos(), Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> R<Option<Arg>> {
        let item = self.next_non_space();
        let pos = item.pos;
        Ok(Some(match item.kind {
            Kind::Ident => {
                if !(self.is_func)(&item.val) {
                    return self.err(format!("function {:?} not defined", item.val));
                }
                Arg::Ident(pos, item.val)
            }
            Kind::Dot => Arg::Dot(pos),
            Kind::Nil => Arg::Nil(pos),
            Kind::Var => {
                if !self.vars.contains(&item.val) {
                    return self.err(format!("undefined variable {:?}", item.val));
                }
                Arg::Var(pos, vec![item.val])
            }
            Kind::Field => Arg::Field(pos, vec![item.val[1..].to_string()]),
            Kind::Bool => Arg::Bool(pos, item.val == "true"),
            Kind::Number | Kind::CharConst => {
                let n = if item.kind == Kind::CharConst {
                    match unquote_go(&item.val) {
                        Some(s) if s.chars().count() == 1 => {
                            Number::Int(s.chars().next().unwrap_or('\0') as i64)
                        }
                        _ => {
                            return self.err(format!("malformed character constant: {}", item.val))
                        }
                    }
                } else {
                    match parse_number(&item.val) {
                        Some(n) => n,
                        None => return self.err(format!("illegal number syntax: {:?}", item.val)),
                    }
                };
                Arg::Number(pos, item.val, n)
            }
            Kind::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", Kind::RightParen)?,
            )),
            Kind::Str | Kind::RawStr => {
                let v = self.unquote(&item)?;
                Arg::Str(pos, item.val, v)
            }
            _ => {
                self.at -= 1;
                return Ok(None);
            }
        }))
    }

    fn unquote(&self, item: &Item) -> R<String> {
        match unquote_go(&item.val) {
            Some(s) => Ok(s),
            None => self.err("invalid syntax"),
        }
    }
}

/// Go's `strconv.Unquote` for "..." , `...` and '...' literals.
fn unquote_go(s: &str) -> Option<String> {
    if let Some(raw) = s.strip_prefix('`') {
        return Some(raw.strip_suffix('`')?.replace('\r', ""));
    }
    let quote = s.chars().next()?;
    let body = s.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let hex = |chars: &mut std::str::Chars, n: usize| -> Option<u32> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return None;
            }
            u32::from_str_radix(&digits, 16).ok()
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '\'' | '"' if e == quote => out.push(e),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?)?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                if rest.len() != 2 || v > 255 {
                    return None;
                }
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A numeric literal as Go's template parser reads it: an int when the
/// text is integer syntax that fits, else a float.
fn parse_number(text: &str) -> Option<Number> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean).to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        if h.contains(['.', 'p']) {
            None
        } else {
            Some(i64::from_str_radix(h, 16))
        }
    } else if let Some(o) = lower.strip_prefix("0o") {
        Some(i64::from_str_radix(o, 8))
    } else if let Some(b) = lower.strip_prefix("0b") {
        Some(i64::from_str_radix(b, 2))
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        Some(i64::from_str_radix(&lower[1..], 8))
    } else if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        Some(lower.parse::<i64>())
    } else {
        None
    };
    match int {
        Some(Ok(v)) => Some(Number::Int(if neg { -v } else { v })),
        Some(Err(_)) => None,
        None if lower.starts_with("0x") => None,
        None => {
            let f: f64 = lower.parse().ok()?;
            Some(Number::Float(if neg { -f } else { f }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funcs(name: &str) -> bool {
        matches!(name, "printf" | "len" | "humanize")
    }

    fn err(src: &str) -> String {
        parse("t", src, &funcs).unwrap_err().to_string()
    }

    #[test]
    fn parses_control_structures_and_defines() {
        let t = parse(
            "t",
            "{{define \"x\"}}X{{end}}{{if .a}}1{{else if .b}}2{{else}}3{{end}}\
             {{range $i, $v := .l}}{{$i}}{{break}}{{end}}{{with $x := 1}}{{$x}}{{end}}{{block \"y\" .}}Y{{end}}",
            &funcs,
        )
        .unwrap();
        let mut names: Vec<&String> = t.trees.keys().collect();
        names.sort();
        assert_eq!(names, ["t", "x", "y"]);
        assert_eq!(t.trees["t"].len(), 4);
    }

    #[test]
    fn reports_errors_as_go() {
        assert_eq!(
            err("{{ foo }}"),
            "template: t:1: function \"foo\" not defined"
        );
        assert_eq!(err("a\n{{ .x "), "template: t:2: unclosed action");
        assert_eq!(err("{{ $x }}"), "template: t:1: undefined variable \"$x\"");
        assert_eq!(err("{{ if .x }}"), "template: t:1: unexpected EOF");
        assert_eq!(err("{{ end }}"), "template: t:1: unexpected {{end}}");
        assert_eq!(
            err("{{ if }}{{ end }}"),
            "template: t:1: missing value for if"
        );
        assert_eq!(
            err("{{ break }}"),
            "template: t:1: {{break}} outside {{range}}"
        );
        assert_eq!(
            err("{{ . | 3 }}"),
            "template: t:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            err("{{ \"a\".b }}"),
            "template: t:1: unexpected . after term \"\\\"a\\\"\""
        );
        assert_eq!(
            err("{{ $x = 1 }}"),
            "template: t:1: undefined variable \"$x\""
        );
        assert_eq!(
            err("{{ .x ! }}"),
            "template: t:1: unexpected \"!\" in operand"
        );
    }

    #[test]
    fn variables_scope_to_their_block() {
        assert!(parse("t", "{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}", &funcs).is_err());
        assert!(parse(
            "t",
            "{{ $x := 1 }}{{ if 1 }}{{ $x = 2 }}{{ end }}{{ $x }}",
            &funcs
        )
        .is_ok());
        assert!(parse("t", "{{ if $x := 1 }}{{ else }}{{ $x }}{{ end }}", &funcs).is_ok());
    }

    #[test]
    fn numbers_read_as_go() {
        assert!(matches!(parse_number("42"), Some(Number::Int(42))));
        assert!(matches!(parse_number("-0x1F"), Some(Number::Int(-31))));
        assert!(matches!(parse_number("010"), Some(Number::Int(8))));
        assert!(matches!(parse_number("1_000"), Some(Number::Int(1000))));
        assert!(matches!(parse_number("1.5"), Some(Number::Float(f)) if f == 1.5));
        assert!(matches!(parse_number("1e3"), Some(Number::Float(f)) if f == 1000.0));
        assert!(parse_number("-").is_none());
        assert_eq!(unquote_go(r#""a\tb\x41\u00e9""#).as_deref(), Some("a\tbAé"));
    }
}
