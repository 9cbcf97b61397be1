use proptest::prelude::*;

use super::parse;
use crate::ast::*;
use storage::{MatchOp, Matcher};

fn p(q: &str) -> Expr {
    parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}

#[track_caller]
fn fails(q: &str, msg: &str) {
    match parse(q) {
        Ok(e) => panic!("{q} parsed as {e:?}"),
        Err(e) => assert!(e.msg.contains(msg), "{q}: got {:?}, want {msg:?}", e.msg),
    }
}

fn sel(name: &str) -> Expr {
    Expr::Vector(VectorSelector {
        name: Some(name.into()),
        matchers: vec![Matcher::equal("__name__", name)],
        offset: 0,
        at: None,
    })
}

fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    let both_vec = lhs.value_type() == ValueType::Vector && rhs.value_type() == ValueType::Vector;
    Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        matching: both_vec.then(|| VectorMatching {
            card: if op.is_set() {
                Cardinality::ManyToMany
            } else {
                Cardinality::OneToOne
            },
            labels: vec![],
            on: false,
            include: vec![],
        }),
        return_bool: false,
    })
}

#[test]
fn precedence() {
    let n = Expr::Number;
    assert_eq!(
        p("1 + 2 * 3"),
        bin(BinOp::Add, n(1.0), bin(BinOp::Mul, n(2.0), n(3.0)))
    );
    assert_eq!(
        p("2 ^ 3 ^ 2"),
        bin(BinOp::Pow, n(2.0), bin(BinOp::Pow, n(3.0), n(2.0)))
    );
    assert_eq!(
        p("1 - 2 - 3"),
        bin(BinOp::Sub, bin(BinOp::Sub, n(1.0), n(2.0)), n(3.0))
    );
    assert_eq!(
        p("-2 ^ 2"),
        Expr::Unary(UnaryOp::Neg, Box::new(bin(BinOp::Pow, n(2.0), n(2.0))))
    );
    assert_eq!(
        p("-a * b"),
        bin(
            BinOp::Mul,
            Expr::Unary(UnaryOp::Neg, Box::new(sel("a"))),
            sel("b")
        )
    );
    assert_eq!(
        p("a or b and c unless d"),
        bin(
            BinOp::Or,
            sel("a"),
            bin(BinOp::Unless, bin(BinOp::And, sel("b"), sel("c")), sel("d"))
        )
    );
    assert_eq!(
        p("a > b + c atan2 d"),
        bin(
            BinOp::Gtr,
            sel("a"),
            bin(BinOp::Add, sel("b"), bin(BinOp::Atan2, sel("c"), sel("d")))
        )
    );
    assert_eq!(p("1 == bool 2").value_type(), ValueType::Scalar);
}

#[test]
fn vector_matching() {
    let Expr::Binary(b) = p("a * ON(x, \"y.z\",) GROUP_LEFT(w) b") else {
        panic!()
    };
    assert_eq!(
        b.matching,
        Some(VectorMatching {
            card: Cardinality::ManyToOne,
            labels: vec!["x".into(), "y.z".into()],
            on: true,
            include: vec!["w".into()],
        })
    );
    let Expr::Binary(b) = p("a / ignoring(x) group_right b") else {
        panic!()
    };
    assert_eq!(b.matching.unwrap().card, Cardinality::OneToMany);
    let Expr::Binary(b) = p("a unless on(x) b") else {
        panic!()
    };
    assert_eq!(b.matching.unwrap().card, Cardinality::ManyToMany);
    let Expr::Binary(b) = p("a + 1") else {
        panic!()
    };
    assert_eq!(b.matching, None);
    let Expr::Binary(b) = p("a >= bool b") else {
        panic!()
    };
    assert!(b.return_bool);
}

#[test]
fn selectors() {
    let Expr::Vector(v) = p("foo:bar{a=\"b\", c!='d', e=~`f.*`, g!~\"h\",}") else {
        panic!()
    };
    assert_eq!(v.name.as_deref(), Some("foo:bar"));
    assert_eq!(v.matchers.len(), 5);
    assert_eq!(
        v.matchers[3],
        Matcher::new(MatchOp::RegexMatch, "e", "f.*").unwrap()
    );
    let Expr::Vector(v) = p("{\"my.metric\", \"a.b\"=\"x\"}") else {
        panic!()
    };
    assert_eq!(v.name, None);
    assert_eq!(v.matchers[0], Matcher::equal("__name__", "my.metric"));
    assert_eq!(v.matchers[1], Matcher::equal("a.b", "x"));
    p("{__name__=\"foo\"}");
    // Keywords name metrics where nothing else fits, as in Prometheus.
    for (q, name) in [
        ("sum", "sum"),
        ("by", "by"),
        ("foo + offset", "offset"),
        ("and{a=\"b\"}", "and"),
    ] {
        let e = p(q);
        let v = match &e {
            Expr::Vector(v) => v,
            Expr::Binary(b) => match &*b.rhs {
                Expr::Vector(v) => v,
                _ => panic!("{q}"),
            },
            _ => panic!("{q}"),
        };
        assert_eq!(v.name.as_deref(), Some(name), "{q}");
        assert_eq!(parse(&e.to_string()).unwrap(), e);
    }
    p("{on=\"x\", by=\"y\", offset=\"z\", inf=\"a\", NaN=\"b\", atan2=\"c\"}");
    let Expr::Aggregate(a) = p("sum by (inf, atan2, bool) (x)") else {
        panic!()
    };
    assert_eq!(a.grouping, ["inf", "atan2", "bool"]);
    let Expr::Vector(v) = p("foo offset 5m @ 100") else {
        panic!()
    };
    assert_eq!((v.offset, v.at), (300_000, Some(At::Timestamp(100_000))));
    let Expr::Vector(v) = p("foo @ start() offset -1h") else {
        panic!()
    };
    assert_eq!((v.offset, v.at), (-3_600_000, Some(At::Start)));
    let Expr::Matrix(m) = p("foo[1h30m] offset 0s") else {
        panic!()
    };
    assert_eq!(m.range, 5_400_000);
    let Expr::Matrix(m) = p("foo[5]") else {
        panic!()
    };
    assert_eq!(m.range, 5000);
    let Expr::Subquery(s) = p("rate(foo[5m])[1h:1m] @ end() offset 10m") else {
        panic!()
    };
    assert_eq!(
        (s.range, s.step, s.offset, s.at),
        (3_600_000, Some(60_000), 600_000, Some(At::End))
    );
    let Expr::Subquery(s) = p("(a + b)[5m:]") else {
        panic!()
    };
    assert_eq!(s.step, None);
    p("foo # comment\n + bar");
    for (q, ms) in [
        ("foo[26m+4m]", 1_800_000),
        ("foo[60*30]", 1_800_000),
        ("foo[2m*(10+5)]", 1_800_000),
        ("foo[-5m+35m]", 1_800_000),
        ("foo[1h/2]", 1_800_000),
        ("foo[1h30m % 1h]", 1_800_000),
        ("foo[30m1s-30m1s % 1m]", 1_800_000),
        ("foo[24m+((1.5*2m)+2m)]", 1_740_000),
        ("foo[2^3]", 8000),
    ] {
        let Expr::Matrix(m) = p(q) else { panic!("{q}") };
        assert_eq!(m.range, ms, "{q}");
    }
    let Expr::Vector(v) = p("foo offset -(2 * (1m + 1))") else {
        panic!()
    };
    assert_eq!(v.offset, -122_000);
    // Without parentheses an offset takes one literal.
    let Expr::Binary(b) = p("foo offset -2 ^ 2") else {
        panic!()
    };
    assert_eq!(b.op, BinOp::Pow);
    let Expr::Subquery(s) = p("foo[29s+1s:20*500ms]") else {
        panic!()
    };
    assert_eq!((s.range, s.step), (30_000, Some(10_000)));
    let Expr::Vector(v) = p("foo @ 1m40s") else {
        panic!()
    };
    assert_eq!(v.at, Some(At::Timestamp(100_000)));
    let Expr::Call(c) = p("predict_linear(foo[1h], 30m)") else {
        panic!()
    };
    assert_eq!(c.args[1], Expr::Number(1800.0));
}

#[test]
fn aggregations_and_calls() {
    let Expr::Aggregate(a) = p("sum by (job, \"a.b\",) (x)") else {
        panic!()
    };
    assert_eq!(a.grouping, vec!["job".to_string(), "a.b".to_string()]);
    let Expr::Aggregate(a) = p("SUM(x) WITHOUT (a)") else {
        panic!()
    };
    assert!(a.without);
    let Expr::Aggregate(a) = p("topk(3, x)") else {
        panic!()
    };
    assert_eq!(a.param.as_deref(), Some(&Expr::Number(3.0)));
    p("count_values(\"l\", x)");
    p("quantile(0.9, x)");
    p("limitk(2, x)");
    p("limit_ratio(0.5, x)");
    p("sum by () (x)");
    p("label_join(x, \"a\", \",\", \"b\", \"c\")");
    p("round(x)");
    p("round(x, 5)");
    p("time()");
    p("hour()");
    p("rate(x[5m],)");
}

#[test]
fn errors() {
    for (q, msg) in [
        ("", "no expression found in input"),
        (
            "{}",
            "vector selector must contain at least one non-empty matcher",
        ),
        (
            "{a=\"\"}",
            "vector selector must contain at least one non-empty matcher",
        ),
        ("foo{__name__=\"bar\"}", "metric name must not be set twice"),
        ("foo{a=~\"(\"}", "(\""),
        (
            "1 > 2",
            "comparisons between scalars must use BOOL modifier",
        ),
        (
            "1 and foo",
            "set operator \"and\" not allowed in binary scalar expression",
        ),
        (
            "a + bool b",
            "bool modifier can only be used on comparison operators",
        ),
        (
            "a and on(x) group_left b",
            "no grouping allowed for \"and\" operation",
        ),
        (
            "1 + on(x) a",
            "vector matching only allowed between instant vectors",
        ),
        (
            "a + on(x) group_left(x) b",
            "label \"x\" must not occur in ON and GROUP clause at once",
        ),
        (
            "foo[5m] + 1",
            "binary expression must contain only scalar and instant vector types",
        ),
        (
            "sum(foo[5m])",
            "expected type instant vector in aggregation expression, got range vector",
        ),
        (
            "topk(\"a\", foo)",
            "expected type scalar in aggregation parameter, got string",
        ),
        (
            "count_values(1, foo)",
            "expected type string in aggregation parameter, got scalar",
        ),
        (
            "topk(foo)",
            "wrong number of arguments for aggregate expression provided, expected 2, got 1",
        ),
        ("foo(x)", "unknown function with name \"foo\""),
        (
            "rate(a[5m], b)",
            "expected 1 argument(s) in call to \"rate\", got 2",
        ),
        (
            "round()",
            "expected at least 1 argument(s) in call to \"round\", got 0",
        ),
        (
            "round(a, 1, 2)",
            "expected at most 2 argument(s) in call to \"round\", got 3",
        ),
        (
            "rate(foo)",
            "expected type range vector in call to function \"rate\", got instant vector",
        ),
        ("(foo)[5m]", "ranges only allowed for vector selectors"),
        (
            "foo offset 5m[5m]",
            "no offset modifiers allowed before range",
        ),
        (
            "foo[5m][5m:]",
            "subquery is only allowed on instant vector, got matrix instead",
        ),
        (
            "1 offset 5m",
            "offset modifier must be preceded by an instant vector selector",
        ),
        (
            "foo offset 1m offset 2m",
            "offset may not be set multiple times",
        ),
        ("foo @ 1 @ 2", "@ <timestamp> may not be set multiple times"),
        ("sum(foo) @ 1", "@ modifier must be preceded by"),
        ("foo[0s]", "duration must be greater than 0"),
        ("foo[1m-2m]", "duration must be greater than 0"),
        ("foo[5m:0s]", "duration must be greater than 0"),
        ("foo @", "unexpected end of input in @, expected timestamp"),
        (
            "foo offset",
            "unexpected end of input in offset, expected number or duration",
        ),
        ("foo[1m/0]", "division by zero in duration expression"),
        ("foo[(1m]", "unexpected \"]\" in range, expected \")\""),
        ("(foo", "unclosed left parenthesis"),
        ("foo)", "unexpected right parenthesis ')'"),
        ("foo bar )", "unexpected identifier \"bar\""),
        ("sum(rate(foo[5m]", "unclosed left parenthesis"),
        ("{a=\"b\"} $", "unexpected character: '$'"),
        (")", "unexpected right parenthesis ')'"),
        ("foo +", "unexpected end of input"),
        ("foo bar", "unexpected identifier \"bar\""),
        ("foo by (a)", "unexpected <by>"),
        ("on + foo", "unexpected <on>"),
        ("bool", "unexpected <bool>"),
        ("a * on(x) group_left (y)", "unexpected end of input"),
        (
            "-foo[5m]",
            "unary expression only allowed on expressions of type scalar or instant vector",
        ),
        ("foo{a=\"b\"", "unexpected end of input inside braces"),
        ("foo{a}", "expected label matching operator"),
        ("foo @ start", "unexpected end of input"),
        ("foo $", "unexpected character: '$'"),
    ] {
        fails(q, msg);
    }
    let e = parse("(foo + bar)[5m]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "1:12: parse error: ranges only allowed for vector selectors"
    );
    let e = parse("some_metric OFFSET 1m[5m]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "1:22: parse error: no offset modifiers allowed before range"
    );
    let e = parse("foo +\n  bar baz").unwrap_err();
    assert_eq!(
        e.to_string(),
        "2:7: parse error: unexpected identifier \"baz\""
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let q = "(".repeat(100_000);
    assert!(parse(&q).is_err());
    let q = "-".repeat(100_000) + "1";
    assert!(parse(&q).is_err());
    let q = vec!["1"; 100_000].join(" + ");
    assert!(parse(&q).is_err());
    let q = vec!["1"; 100_000].join(" ^ ");
    assert!(parse(&q).is_err());
    // Just under the limits: parses, prints, compares and drops without
    // overflowing a test thread's stack, in debug builds too.
    for q in [
        format!("{}foo{}", "(".repeat(120), ")".repeat(120)),
        format!("{}foo{}", "abs(".repeat(120), ")".repeat(120)),
        format!("{}foo", "-".repeat(120)),
        vec!["foo"; 1000].join(" + "),
        vec!["foo"; 120].join(" ^ "),
    ] {
        let e = parse(&q).unwrap_or_else(|e| panic!("{e}"));
        // Not assert_eq!: a failure would print the deep tree recursively.
        assert!(parse(&e.to_string()).unwrap() == e);
    }
}

/// Every query in the shared conformance suite: how many parse, and that
/// each that does prints back to a query parsing to the same tree.
#[test]
fn conformance_queries() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/promql");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} not found", dir.display());
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    let (mut total, mut ok) = (0, 0);
    let mut failures = Vec::new();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(query) = eval_query(line) else {
                continue;
            };
            // An `eval_fail` whose expected error is a parse error may be
            // meant not to parse.
            let mut expects_fail = line.starts_with("eval_fail");
            while let Some(next) = lines.peek() {
                if next.trim_start().starts_with("expect fail") {
                    expects_fail = true;
                }
                if next.starts_with(' ') || next.starts_with('\t') {
                    lines.next();
                } else {
                    break;
                }
            }
            total += 1;
            match parse(query) {
                Ok(e) => {
                    ok += 1;
                    let printed = e.to_string();
                    let again = parse(&printed)
                        .unwrap_or_else(|err| panic!("{query} printed as {printed}: {err}"));
                    assert!(same(&again, &e), "{query} printed as {printed}");
                }
                Err(err) => failures.push(format!(
                    "{}{}: {query}: {err}",
                    path.file_name().unwrap().to_string_lossy(),
                    if expects_fail { " (expects fail)" } else { "" }
                )),
            }
        }
    }
    eprintln!("conformance: {ok} of {total} queries parse");
    for f in &failures {
        eprintln!("  {f}");
    }
}

/// The query of an `eval…` line of the test script format.
fn eval_query(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("eval")?;
    let (_, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    if let Some(r) = rest.strip_prefix("instant at ") {
        return Some(r.trim_start().split_once(' ')?.1.trim());
    }
    let r = rest.strip_prefix("range from ")?;
    let (_, r) = r.split_once(" step ")?;
    Some(r.trim_start().split_once(' ')?.1.trim())
}

/// Tree equality where NaN equals NaN.
/// Equality that also holds for NaN literals: compares the debug form,
/// without source positions (which equality ignores too).
fn same(a: &Expr, b: &Expr) -> bool {
    let strip = |e: &Expr| {
        let re = regex::Regex::new(r"(pos|param_pos): Pos \{[^}]*\}|arg_pos: \[[^\]]*\]").unwrap();
        re.replace_all(&format!("{e:?}"), "").into_owned()
    };
    a == b || strip(a) == strip(b)
}

fn token_soup() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "foo",
        "bar:baz",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        ",",
        "=",
        "!=",
        "=~",
        "!~",
        "\"a\"",
        "'b'",
        "`c`",
        "5m",
        "1h30m",
        "1",
        "0x1f",
        ".5",
        "Inf",
        "NaN",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "==",
        ">",
        "<=",
        "and",
        "or",
        "unless",
        "atan2",
        "bool",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "by",
        "without",
        "sum",
        "topk",
        "count_values",
        "rate",
        "round",
        "time",
        "label_join",
        "offset",
        "@",
        "start",
        "end",
        "#",
        "\n",
        "__name__",
        "\"a.b\"",
        "é",
        "\\",
    ]);
    prop::collection::vec(tokens, 0..30).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_strings_do_not_panic(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn token_soups_do_not_panic_and_round_trip(s in token_soup()) {
        if let Ok(e) = parse(&s) {
            let printed = e.to_string();
            let again = parse(&printed);
            prop_assert!(again.as_ref().is_ok_and(|a| same(a, &e)), "{} printed as {}", s, printed);
        }
    }
}

/// Wraps `e` in parentheses when, as an operand of `op` on the given side,
/// the parser would otherwise group it differently.
fn operand(e: Expr, op: BinOp, left: bool) -> Expr {
    let needs = match &e {
        Expr::Binary(b) => {
            let (p, q) = (b.op.precedence(), op.precedence());
            p < q || (p == q && (left == op.right_assoc()))
        }
        // `-a ^ b` reads as `-(a ^ b)`.
        Expr::Unary(..) => left && op == BinOp::Pow,
        _ => false,
    };
    if needs {
        Expr::Paren(Box::new(e))
    } else {
        e
    }
}

/// Parenthesizes anything a postfix `[…]` or unary sign cannot attach to
/// directly.
fn atom(e: Expr) -> Expr {
    match e {
        Expr::Binary(_) | Expr::Unary(..) => Expr::Paren(Box::new(e)),
        e => e,
    }
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,4}",
        "[a-z.é ]{1,4}",
        Just("by".to_string()),
        Just("Inf".to_string()),
        Just("atan2".to_string()),
    ]
}

fn selector() -> impl Strategy<Value = VectorSelector> {
    let at = prop_oneof![
        Just(None),
        Just(Some(At::Start)),
        Just(Some(At::End)),
        (-100_000_000i64..100_000_000).prop_map(|t| Some(At::Timestamp(t))),
    ];
    (
        prop_oneof![
            "[a-z_:][a-z0-9_:]{0,6}",
            Just("sum".to_string()),
            Just("a.b".to_string())
        ],
        prop::collection::vec((label(), 0..4u8, "[a-z\"\\\\\n]{0,3}"), 0..3),
        prop_oneof![Just(0i64), -10_000_000i64..10_000_000],
        at,
        any::<bool>(),
    )
        .prop_map(|(name, ms, offset, at, named)| {
            let mut matchers = vec![Matcher::equal("__name__", name.clone())];
            for (l, op, v) in ms {
                let op = [
                    MatchOp::Equal,
                    MatchOp::NotEqual,
                    MatchOp::RegexMatch,
                    MatchOp::RegexNoMatch,
                ][op as usize];
                let v = if matches!(op, MatchOp::RegexMatch | MatchOp::RegexNoMatch) {
                    v.replace('\\', "")
                } else {
                    v
                };
                matchers.push(Matcher::new(op, l, v).unwrap());
            }
            // Only plain identifiers can be written before the braces.
            let plain = !name.contains('.') && name != "on" && name != "inf";
            VectorSelector {
                name: (named && plain).then_some(name),
                matchers,
                offset,
                at,
            }
        })
}

fn number() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0.0f64..1e9).prop_map(Expr::Number),
        (0u32..1000).prop_map(|n| Expr::Number(n as f64)),
        Just(Expr::Number(f64::INFINITY)),
        Just(Expr::Number(1e-7)),
    ]
}

/// Instant-vector expressions as the parser builds them.
fn vector_expr() -> impl Strategy<Value = Expr> {
    let leaf = selector().prop_map(Expr::Vector);
    leaf.prop_recursive(4, 32, 3, |inner| {
        let funcs = ["abs", "rate", "round", "label_join", "sort_by_label"];
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Paren(Box::new(e))),
            (any::<bool>(), inner.clone()).prop_map(|(neg, e)| {
                Expr::Unary(
                    if neg { UnaryOp::Neg } else { UnaryOp::Pos },
                    Box::new(atom(e)),
                )
            }),
            (
                0..16usize,
                inner.clone(),
                prop_oneof![inner.clone(), number()],
                any::<bool>(),
                any::<bool>(),
                prop::collection::vec(label(), 0..2),
                0..3u8
            )
                .prop_map(|(op, l, r, swap, on, labels, group)| {
                    let op = [
                        BinOp::Add,
                        BinOp::Sub,
                        BinOp::Mul,
                        BinOp::Div,
                        BinOp::Mod,
                        BinOp::Pow,
                        BinOp::Atan2,
                        BinOp::Eql,
                        BinOp::Neq,
                        BinOp::Gtr,
                        BinOp::Lss,
                        BinOp::Gte,
                        BinOp::Lte,
                        BinOp::And,
                        BinOp::Or,
                        BinOp::Unless,
                    ][op];
                    let (l, r) = if swap && !op.is_set() { (r, l) } else { (l, r) };
                    let (l, r) = if op.is_set() && r.value_type() != ValueType::Vector {
                        (l.clone(), l)
                    } else {
                        (l, r)
                    };
                    let both =
                        l.value_type() == ValueType::Vector && r.value_type() == ValueType::Vector;
                    let card = match (op.is_set(), group) {
                        (true, _) => Cardinality::ManyToMany,
                        (false, 1) => Cardinality::ManyToOne,
                        (false, 2) => Cardinality::OneToMany,
                        _ => Cardinality::OneToOne,
                    };
                    let include = if card == Cardinality::ManyToOne {
                        vec!["x".to_string()]
                    } else {
                        vec![]
                    };
                    let labels = if on {
                        labels.into_iter().filter(|l| l != "x").collect()
                    } else {
                        labels
                    };
                    Expr::Binary(BinaryExpr {
                        op,
                        lhs: Box::new(operand(l, op, true)),
                        rhs: Box::new(operand(r, op, false)),
                        matching: both.then_some(VectorMatching {
                            card,
                            labels,
                            on,
                            include,
                        }),
                        return_bool: op.is_comparison() && swap,
                    })
                }),
            (
                0..14usize,
                inner.clone(),
                number(),
                prop::collection::vec(label(), 0..3),
                any::<bool>()
            )
                .prop_map(|(op, e, p, grouping, without)| {
                    let op = [
                        AggOp::Sum,
                        AggOp::Min,
                        AggOp::Max,
                        AggOp::Avg,
                        AggOp::Group,
                        AggOp::Stddev,
                        AggOp::Stdvar,
                        AggOp::Count,
                        AggOp::CountValues,
                        AggOp::Bottomk,
                        AggOp::Topk,
                        AggOp::Quantile,
                        AggOp::Limitk,
                        AggOp::LimitRatio,
                    ][op];
                    let param = match op {
                        AggOp::CountValues => Some(Box::new(Expr::String("v".into()))),
                        _ if op.has_param() => Some(Box::new(p)),
                        _ => None,
                    };
                    let grouping = if grouping.is_empty() && !without {
                        vec![]
                    } else {
                        grouping
                    };
                    Expr::Aggregate(AggregateExpr {
                        op,
                        expr: Box::new(e),
                        param,
                        grouping,
                        without,
                        param_pos: Default::default(),
                    })
                }),
            (0..funcs.len(), inner.clone(), selector(), 1i64..100_000_000).prop_map(
                move |(f, e, sel, range)| {
                    let func = crate::functions::lookup(funcs[f]).unwrap();
                    let args = match func.name {
                        "rate" => vec![Expr::Matrix(MatrixSelector { vector: sel, range })],
                        "round" => vec![e, Expr::Number(0.5)],
                        "label_join" => vec![e, Expr::String("a".into()), Expr::String(",".into())],
                        "sort_by_label" => {
                            vec![e, Expr::String("a".into()), Expr::String("b".into())]
                        }
                        _ => vec![e],
                    };
                    Expr::Call(Call {
                        func,
                        args,
                        pos: Default::default(),
                        arg_pos: Vec::new(),
                    })
                }
            ),
            (
                inner,
                1i64..100_000_000,
                prop::option::of(1i64..1_000_000),
                -1_000_000i64..1_000_000,
                any::<bool>()
            )
                .prop_map(|(e, range, step, offset, at)| {
                    let sq = Expr::Subquery(SubqueryExpr {
                        expr: Box::new(atom(e)),
                        range,
                        step,
                        offset,
                        at: at.then_some(At::End),
                    });
                    let func = crate::functions::lookup("max_over_time").unwrap();
                    Expr::Call(Call {
                        func,
                        args: vec![sq],
                        pos: Default::default(),
                        arg_pos: Vec::new(),
                    })
                }),
        ]
    })
}

#[test]
fn metric_selectors_alone() {
    use super::parse_metric_selector as sel;
    let ms = sel(r#"up{job="a", i!~"x.*"}"#).unwrap();
    assert_eq!(ms.len(), 3);
    assert_eq!(ms[0], Matcher::equal("__name__", "up"));
    assert_eq!(ms[2].op, MatchOp::RegexNoMatch);
    // Unlike in a query, matchers may all match the empty string.
    assert!(sel("{}").unwrap().is_empty());
    assert_eq!(sel(r#"{job=""}"#).unwrap().len(), 1);
    assert_eq!(
        sel(r#"{"my.metric"}"#).unwrap(),
        vec![Matcher::equal("__name__", "my.metric")]
    );
    assert_eq!(sel("sum").unwrap(), vec![Matcher::equal("__name__", "sum")]);
    for (q, msg) in [
        ("up + 1", "1:4: parse error: unexpected <op:+>"),
        ("rate(x[5m])", "1:5: parse error: unexpected \"(\""),
        ("up[5m]", "1:3: parse error: unexpected \"[\""),
        ("", "1:1: parse error: unexpected end of input"),
        ("1", "1:1: parse error: unexpected number \"1\""),
    ] {
        assert_eq!(sel(q).unwrap_err().to_string(), msg, "{q}");
    }
    assert!(sel("up offset 5m").is_err());
    assert!(sel(r#"{a="b""#).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Printing any tree the parser could build and parsing it again gives
    /// the same tree.
    #[test]
    fn generated_trees_round_trip(e in vector_expr()) {
        let printed = e.to_string();
        if std::env::var_os("SHOW_GENERATED").is_some() { eprintln!("{printed}"); }
        let again = parse(&printed);
        prop_assert!(again.as_ref().is_ok_and(|a| same(a, &e)), "{:?}\nprinted as {}\nparsed as {:?}", e, printed, again);
    }
}

/// Strings that are not UTF-8, whether their bytes came in the request
/// (U+FFFD after form decoding) or from escapes, cannot be matched: a
/// parse error, as Prometheus's, instead of an empty result.
#[test]
fn invalid_utf8_in_selectors() {
    for q in [
        "up{job=\"\u{fffd}\"}",
        "up{job=`a\u{fffd}`}",
        "label_replace(up, \"a\", \"\u{fffd}\", \"b\", \"c\")",
        r#"up{job="\xff"}"#,
        r#"up{job!~"a\xc5"}"#,
        r#"{"\xff"="a"}"#,
        r#"{"a\xff"}"#,
        r#"rate(up{job="\xff"}[5m])"#,
    ] {
        fails(q, "invalid UTF-8 rune");
        assert!(super::parse_metric_selector(q).is_err(), "{q}");
    }
    // Escapes giving UTF-8 are fine; bytes elsewhere stay allowed until used.
    p(r#"up{job="\xc3\xa9"}"#);
    p(r#"label_replace(up, "a", "\xff", "b", "c")"#);
    assert_eq!(
        parse(r#"up{job="\xff"}"#).unwrap_err().to_string(),
        "1:8: parse error: invalid UTF-8 rune"
    );
}
