//! The PromQL syntax tree. No evaluation logic lives here.
//!
//! Durations and timestamps are milliseconds. Source positions are byte
//! offsets into the query string.

use storage::Matcher;

use crate::functions::Function;

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `1`, `0x1f`, `1e3`, `Inf`, `NaN` (a leading sign is a unary op).
    Number(f64),
    /// `"str"`, `'str'` or `` `str` `` after unescaping.
    String(String),
    /// `name{l="v"} offset 5m @ 10`.
    Vector(VectorSelector),
    /// `name{l="v"}[5m] offset 5m @ 10`.
    Matrix(MatrixSelector),
    /// `expr[range:step] offset … @ …`.
    Subquery(SubqueryExpr),
    /// `( expr )`.
    Paren(Box<Expr>),
    /// `-expr` or `+expr`.
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryExpr),
    Aggregate(AggregateExpr),
    Call(Call),
}

/// `@` modifier value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// `@ <unix seconds>`, stored in ms.
    Timestamp(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name when written before the braces (`foo{…}`); it is
    /// also present in `matchers` as `__name__="foo"`.
    pub name: Option<String>,
    /// All matchers, including the name matcher.
    pub matchers: Vec<Matcher>,
    /// `offset` in ms; negative for `offset -5m`.
    pub offset: i64,
    pub at: Option<At>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    pub vector: VectorSelector,
    /// Range in ms.
    pub range: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SubqueryExpr {
    pub expr: Box<Expr>,
    /// Range in ms.
    pub range: i64,
    /// Resolution step in ms; `None` for `[5m:]` (use the default
    /// evaluation interval).
    pub step: Option<i64>,
    pub offset: i64,
    pub at: Option<At>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    And,
    Or,
    Unless,
}

impl BinOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Gtr => ">",
            BinOp::Lss => "<",
            BinOp::Gte => ">=",
            BinOp::Lte => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Binding strength, higher binds tighter (Prometheus's table):
    /// `or` 1; `and unless` 2; comparisons 3; `+ -` 4; `* / % atan2` 5; `^` 6.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Atan2 => 5,
            BinOp::Pow => 6,
        }
    }

    /// Only `^` is right-associative.
    pub fn right_assoc(self) -> bool {
        self == BinOp::Pow
    }
}

/// How series of two vectors are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// Labels listed in `on(...)` / `ignoring(...)`.
    pub labels: Vec<String>,
    /// `true` for `on`, `false` for `ignoring` (or no clause).
    pub on: bool,
    /// Labels listed in `group_left(...)` / `group_right(...)`.
    pub include: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BinaryExpr {
    pub op: BinOp,
    pub lhs: Box<Expr>,
    pub rhs: Box<Expr>,
    /// Present when both sides are instant vectors (set by the parser, with
    /// `ManyToMany` for set operators and `OneToOne` by default).
    pub matching: Option<VectorMatching>,
    /// The `bool` modifier of comparisons.
    pub return_bool: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggOp {
    Sum,
    Min,
    Max,
    Avg,
    Group,
    Stddev,
    Stdvar,
    Count,
    CountValues,
    Bottomk,
    Topk,
    Quantile,
    Limitk,
    LimitRatio,
}

impl AggOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AggOp::Sum => "sum",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Avg => "avg",
            AggOp::Group => "group",
            AggOp::Stddev => "stddev",
            AggOp::Stdvar => "stdvar",
            AggOp::Count => "count",
            AggOp::CountValues => "count_values",
            AggOp::Bottomk => "bottomk",
            AggOp::Topk => "topk",
            AggOp::Quantile => "quantile",
            AggOp::Limitk => "limitk",
            AggOp::LimitRatio => "limit_ratio",
        }
    }

    pub fn from_name(s: &str) -> Option<AggOp> {
        Some(match s {
            "sum" => AggOp::Sum,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "avg" => AggOp::Avg,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "count" => AggOp::Count,
            "count_values" => AggOp::CountValues,
            "bottomk" => AggOp::Bottomk,
            "topk" => AggOp::Topk,
            "quantile" => AggOp::Quantile,
            "limitk" => AggOp::Limitk,
            "limit_ratio" => AggOp::LimitRatio,
            _ => return None,
        })
    }

    /// Whether the aggregation takes a parameter before the vector.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggOp::CountValues
                | AggOp::Bottomk
                | AggOp::Topk
                | AggOp::Quantile
                | AggOp::Limitk
                | AggOp::LimitRatio
        )
    }
}

/// Where a node starts in the query: 1-based line and byte column, as
/// Prometheus prints them after annotations (`… (1:25)`). Positions are not
/// part of what a tree means, so they never affect equality: a printed and
/// re-parsed tree equals the original.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// The position of byte `offset` in `query`.
    pub fn at(query: &str, offset: usize) -> Pos {
        let before = &query.as_bytes()[..offset.min(query.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Pos {
            line,
            col: (before.len() - line_start) as u32 + 1,
        }
    }
}

impl PartialEq for Pos {
    fn eq(&self, _: &Pos) -> bool {
        true
    }
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AggregateExpr {
    pub op: AggOp,
    pub expr: Box<Expr>,
    /// The parameter of topk/bottomk/quantile/count_values/limitk/limit_ratio.
    pub param: Option<Box<Expr>>,
    /// Labels in `by(...)` or `without(...)`.
    pub grouping: Vec<String>,
    /// `true` for `without`.
    pub without: bool,
    /// Where the parameter starts (for annotations about it).
    pub param_pos: Pos,
}

#[derive(Clone, Debug)]
pub struct Call {
    pub func: &'static Function,
    pub args: Vec<Expr>,
    /// Where the call starts.
    pub pos: Pos,
    /// Where each argument starts.
    pub arg_pos: Vec<Pos>,
}

/// Positions are left out, as for [`Pos`].
impl PartialEq for Call {
    fn eq(&self, other: &Call) -> bool {
        self.func == other.func && self.args == other.args
    }
}

impl Call {
    /// Where argument `i` starts (the call's position if unknown).
    pub fn arg_pos(&self, i: usize) -> Pos {
        self.arg_pos.get(i).copied().unwrap_or(self.pos)
    }
}

/// The type an expression evaluates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl ValueType {
    /// As Prometheus names it in errors ("instant vector", "range vector", …).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }
}

impl Expr {
    /// The type this expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Vector(_) => ValueType::Vector,
            Expr::Matrix(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(e) | Expr::Unary(_, e) => e.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Call(c) => c.func.return_type,
        }
    }
}
