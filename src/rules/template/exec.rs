//! Runs a parsed template over a data value, writing its output, with Go's
//! `text/template` semantics (and Prometheus's `missingkey=zero`).

use std::fmt::Display;
use std::rc::Rc;

use super::error::ExecError;
use super::funcs::{self, Call, FnError};
use super::parse::{Arg, Branch, Command, Node, Number, Pipe, Templates};
use super::value::Value;

/// Output beyond this many bytes fails the expansion: an annotation that
/// large is a runaway template, not a message.
pub const MAX_OUTPUT: usize = 1 << 20;
/// How deeply `template`/`tmpl` calls may nest (recursion guard).
pub const MAX_DEPTH: usize = 100;
/// Evaluation steps (commands and loop iterations) one expansion may take.
pub const MAX_STEPS: u64 = 1_000_000;

/// How a statement list finished.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The node an error is reported at, as Go's `state.at` tracks it.
#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Arg(&'t Arg),
    Cmd(&'t Command),
    Pipe(&'t Pipe),
    Template(usize, &'t str),
}

/// One execution of a template set.
pub struct Exec<'t, 'c> {
    templates: &'t Templates,
    calls: &'c dyn Call,
    /// The name the source was parsed under (error locations use it).
    parse_name: &'t str,
    src: &'t str,
    /// The template running now (`executing "..."` names it).
    current: &'t str,
    at: At<'t>,
    vars: Vec<(String, Value)>,
    out: String,
    depth: usize,
    steps: u64,
}

type R<T> = Result<T, ExecError>;

impl<'t, 'c> Exec<'t, 'c> {
    pub fn new(
        templates: &'t Templates,
        calls: &'c dyn Call,
        parse_name: &'t str,
        src: &'t str,
    ) -> Self {
        Exec {
            templates,
            calls,
            parse_name,
            src,
            current: parse_name,
            at: At::None,
            vars: Vec::new(),
            out: String::new(),
            depth: 0,
            steps: 0,
        }
    }

    /// Runs template `name` with `dot` as data and returns its output.
    pub fn run(mut self, name: &'t str, dot: Value) -> R<String> {
        let Some((key, tree)) = self.templates.trees.get_key_value(name) else {
            return Err(ExecError(format!(
                "template: no template {name:?} associated with template {:?}",
                self.parse_name
            )));
        };
        self.current = key;
        self.vars = vec![("$".into(), dot.clone())];
        self.walk(tree, &dot)?;
        Ok(self.out)
    }

    fn fail<T>(&self, msg: impl Display) -> R<T> {
        let (pos, context) = match self.at {
            At::None => return Err(ExecError(format!("template: {}: {msg}", self.current))),
            At::Arg(a) => (a.pos(), a.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Template(pos, name) => (pos, format!("{{{{template {name:?}}}}}")),
        };
        let before = &self.src[..pos.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        let context = if context.chars().count() > 20 {
            format!("{}...", context.chars().take(20).collect::<String>())
        } else {
            context
        };
        Err(ExecError(format!(
            "template: {}:{line}:{col}: executing {:?} at <{context}>: {msg}",
            self.parse_name, self.current
        )))
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.fail(format!("template exceeded {MAX_STEPS} evaluation steps"));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return self.fail(format!("template output exceeds {MAX_OUTPUT} bytes"));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk(&mut self, list: &'t [Node], dot: &Value) -> R<Flow> {
        for node in list {
            match node {
                Node::Text(t) => self.write(t)?,
                Node::Action(pipe) => {
                    let v = self.pipeline(dot, pipe, true)?;
                    if pipe.decl.is_empty() {
                        let mut s = String::new();
                        v.write_printed(&mut s);
                        self.at = At::Pipe(pipe);
                        self.write(&s)?;
                    }
                }
                Node::If(b) | Node::With(b) => {
                    let with = matches!(node, Node::With(_));
                    let mark = self.vars.len();
                    let v = self.pipeline(dot, &b.pipe, true)?;
                    let flow = if v.truth() {
                        self.walk(&b.list, if with { &v } else { dot })?
                    } else if let Some(e) = &b.else_list {
                        self.walk(e, dot)?
                    } else {
                        Flow::Normal
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(b) => self.range(b, dot)?,
                Node::Template { pos, name, pipe } => {
                    self.at = At::Template(*pos, name);
                    let data = match pipe {
                        Some(p) => self.pipeline(dot, p, true)?,
                        None => Value::Nil,
                    };
                    self.at = At::Template(*pos, name);
                    self.call_template(name, data)?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    /// Runs a named template in a fresh variable scope, appending its output.
    fn call_template(&mut self, name: &str, data: Value) -> R<()> {
        let Some((key, tree)) = self.templates.trees.get_key_value(name) else {
            return self.fail(format!("template {name:?} not defined"));
        };
        if self.depth >= MAX_DEPTH {
            return self.fail(format!("exceeded maximum template depth ({MAX_DEPTH})"));
        }
        let vars = std::mem::replace(&mut self.vars, vec![("$".into(), data.clone())]);
        let current = std::mem::replace(&mut self.current, key);
        self.depth += 1;
        let result = self.walk(tree, &data);
        self.depth -= 1;
        self.current = current;
        self.vars = vars;
        result.map(|_| ())
    }

    fn range(&mut self, b: &'t Branch, dot: &Value) -> R<()> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe, false)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::Samples(list) => list
                .iter()
                .enumerate()
                .map(|(i, s)| (Value::Int(i as i64), Value::Sample(s.clone())))
                .collect(),
            Value::Labels(m) => m
                .iter()
                .map(|(k, v)| (Value::str(k.as_str()), Value::str(v.as_str())))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (Value::str(k.as_str()), v.clone()))
                .collect(),
            Value::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    return self.fail(format!(
                        "can't use {n} to iterate over more than one variable"
                    ));
                }
                if *n as u64 > MAX_STEPS {
                    return self.fail(format!("template exceeded {MAX_STEPS} evaluation steps"));
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            other => return self.fail(format!("range can't iterate over {}", other.to_v())),
        };
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                self.walk(e, dot)?;
            }
            self.vars.truncate(mark);
            return Ok(());
        }
        for (key, elem) in items {
            self.step()?;
            let inner = self.vars.len();
            match b.pipe.decl.as_slice() {
                [] => {}
                [v] => self.declare(v, elem.clone(), b.pipe.is_assign),
                [k, v, ..] => {
                    self.declare(k, key, b.pipe.is_assign);
                    self.declare(v, elem.clone(), b.pipe.is_assign);
                }
            }
            let flow = self.walk(&b.list, &elem)?;
            self.vars.truncate(inner.max(mark));
            if let Flow::Break = flow {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn declare(&mut self, name: &str, v: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    fn pipeline(&mut self, dot: &Value, pipe: &'t Pipe, bind: bool) -> R<Value> {
        self.at = At::Pipe(pipe);
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        if bind {
            for name in &pipe.decl {
                self.declare(name, value.clone(), pipe.is_assign);
            }
        }
        Ok(value)
    }

    fn command(&mut self, dot: &Value, cmd: &'t Command, fin: Option<Value>) -> R<Value> {
        self.step()?;
        let first = &cmd.args[0];
        match first {
            Arg::Ident(_, name) => {
                self.at = At::Arg(first);
                return self.function(dot, name, cmd, &cmd.args[1..], fin);
            }
            Arg::Field(_, names) => return self.fields(dot.clone(), first, names, cmd, fin),
            Arg::Var(_, names) => {
                let v = self.var(first, &names[0])?;
                return self.fields(v, first, &names[1..], cmd, fin);
            }
            Arg::Chain(_, node, names) => {
                let v = self.arg(dot, node)?;
                return self.fields(v, first, names, cmd, fin);
            }
            _ => {}
        }
        self.at = At::Arg(first);
        if cmd.args.len() > 1 || fin.is_some() {
            return self.fail(format!("can't give argument to non-function {first}"));
        }
        match first {
            Arg::Pipe(p) => self.pipeline(dot, p, true),
            Arg::Nil(_) => self.fail("nil is not a command"),
            other => self.arg(dot, other),
        }
    }

    fn var(&mut self, at: &'t Arg, name: &str) -> R<Value> {
        self.at = At::Arg(at);
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    /// Follows `names` from `receiver`; extra command arguments are an
    /// error, since our data has no methods that take arguments.
    fn fields(
        &mut self,
        mut receiver: Value,
        at: &'t Arg,
        names: &[String],
        cmd: &'t Command,
        fin: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(at);
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            if last && (cmd.args.len() > 1 || fin.is_some()) {
                if !is_method(&receiver, name) {
                    return self.fail(format!(
                        "{name} has arguments but cannot be invoked as function"
                    ));
                }
                return self.fail(format!(
                    "wrong number of args for {name}: want 0 got {}",
                    cmd.args.len() - 1 + fin.is_some() as usize
                ));
            }
            receiver = match field(&receiver, name) {
                Ok(v) => v,
                Err(e) => return self.fail(e),
            };
        }
        Ok(receiver)
    }

    fn arg(&mut self, dot: &Value, arg: &'t Arg) -> R<Value> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number(_, _, Number::Int(i)) => Ok(Value::Int(*i)),
            Arg::Number(_, _, Number::Float(f)) => Ok(Value::Float(*f)),
            Arg::Str(_, _, s) => Ok(Value::str(s.as_str())),
            Arg::Field(_, names) => {
                let mut v = dot.clone();
                for n in names {
                    v = field(&v, n).or_else(|e| self.fail(e))?;
                }
                Ok(v)
            }
            Arg::Var(_, names) => {
                let mut v = self.var(arg, &names[0])?;
                for n in &names[1..] {
                    v = field(&v, n).or_else(|e| self.fail(e))?;
                }
                Ok(v)
            }
            Arg::Chain(_, node, names) => {
                let mut v = self.arg(dot, node)?;
                self.at = At::Arg(arg);
                for n in names {
                    v = field(&v, n).or_else(|e| self.fail(e))?;
                }
                Ok(v)
            }
            Arg::Pipe(p) => self.pipeline(dot, p, true),
            Arg::Ident(_, name) => {
                let cmd_args: &'t [Arg] = &[];
                self.function_bare(dot, arg, name, cmd_args)
            }
        }
    }

    fn function_bare(&mut self, dot: &Value, at: &'t Arg, name: &str, args: &'t [Arg]) -> R<Value> {
        self.at = At::Arg(at);
        self.call(dot, name, args, None, At::Arg(at))
    }

    fn function(
        &mut self,
        dot: &Value,
        name: &str,
        cmd: &'t Command,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.call(dot, name, args, fin, At::Cmd(cmd))
    }

    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        args: &'t [Arg],
        fin: Option<Value>,
        node: At<'t>,
    ) -> R<Value> {
        let ident = self.at;
        let given = args.len() + fin.is_some() as usize;
        if name == "and" || name == "or" {
            if given == 0 {
                return self.fail(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            // Go evaluates these lazily: the first deciding operand wins.
            let mut v = Value::Nil;
            for (i, a) in args.iter().enumerate() {
                v = self.arg(dot, a)?;
                let last = i + 1 == args.len() && fin.is_none();
                if last || v.truth() == (name == "or") {
                    return Ok(v);
                }
            }
            return Ok(fin.unwrap_or(v));
        }
        let (min, variadic) = match funcs::arity(name).or_else(|| self.calls.arity(name)) {
            Some(a) => a,
            None => return self.fail(format!("{name:?} is not a defined function")),
        };
        if variadic && given < min {
            return self.fail(format!(
                "wrong number of args for {name}: want at least {min} got {}",
                args.len()
            ));
        }
        if !variadic && given != min {
            return self.fail(format!(
                "wrong number of args for {name}: want {min} got {given}"
            ));
        }
        let mut values = Vec::with_capacity(given);
        for a in args {
            values.push(self.arg(dot, a)?);
        }
        values.extend(fin);
        self.at = ident;
        let result = if name == "tmpl" {
            self.tmpl(&values)
        } else {
            match funcs::call(name, &values) {
                Some(r) => r,
                None => self.calls.call(name, &values),
            }
        };
        match result {
            Ok(v) => Ok(v),
            Err(FnError::Type(msg)) => self.fail(msg),
            Err(FnError::Call(msg)) => {
                self.at = node;
                self.fail(format!("error calling {name}: {msg}"))
            }
            Err(FnError::Exec(e)) => Err(e),
        }
    }

    /// `tmpl NAME DATA`: another template's output as a value.
    fn tmpl(&mut self, args: &[Value]) -> Result<Value, FnError> {
        let name = funcs::string_arg(&args[0])?.to_string();
        let saved = std::mem::take(&mut self.out);
        let result = self.call_template(&name, args[1].clone());
        let produced = std::mem::replace(&mut self.out, saved);
        result.map_err(FnError::Exec)?;
        Ok(Value::str(produced))
    }
}

fn is_method(v: &Value, name: &str) -> bool {
    matches!(v, Value::Time(_) | Value::Duration(_)) && field(v, name).is_ok()
}

/// `.name` on a value: struct fields, map keys (missing keys give the
/// zero value) and the few methods of times and durations.
fn field(v: &Value, name: &str) -> Result<Value, String> {
    let no_field = || format!("can't evaluate field {name} in type {}", v.type_name());
    Ok(match v {
        Value::Nil => Value::Nil,
        Value::Record(fields) => fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(no_field)?,
        Value::Labels(m) => Value::str(m.get(name).map_or("", |s| s.as_str())),
        Value::Map(m) => m.get(name).cloned().unwrap_or(Value::Nil),
        Value::Sample(s) => match name {
            "Labels" => Value::Labels(Rc::new(s.labels.clone())),
            "Value" => Value::Float(s.value),
            _ => return Err(no_field()),
        },
        Value::Time(ns) => match name {
            "Unix" => Value::Int(ns.div_euclid(1_000_000_000)),
            "UnixMilli" => Value::Int(ns.div_euclid(1_000_000)),
            "UnixNano" => Value::Int(*ns),
            "UTC" => Value::Time(*ns),
            "String" => Value::str(v.to_v()),
            _ => return Err(no_field()),
        },
        Value::Duration(ns) => match name {
            "Seconds" => Value::Float(*ns as f64 / 1e9),
            "Minutes" => Value::Float(*ns as f64 / 6e10),
            "Hours" => Value::Float(*ns as f64 / 3.6e12),
            "Milliseconds" => Value::Int(ns / 1_000_000),
            "Nanoseconds" => Value::Int(*ns),
            "String" => Value::str(v.to_v()),
            _ => return Err(no_field()),
        },
        _ => return Err(no_field()),
    })
}
