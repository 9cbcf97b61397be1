//! Engine tests over a real database in a temporary directory, with syntax
//! trees built by hand.

use storage::{Db, Labels, MatchOp, Matcher, Options};

use super::*;
use crate::ast::*;

pub(crate) struct TestDb {
    _dir: tempfile::TempDir,
    pub db: Db,
}

/// One test series: its label pairs and its `(t ms, v)` samples.
pub(crate) type TestSeries<'a> = (&'a [(&'a str, &'a str)], Vec<(i64, f64)>);

/// Loads series given as (labels, [(t ms, v)]).
pub(crate) fn load(series: &[TestSeries<'_>]) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        compaction_interval: None,
        retention: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let mut app = db.appender();
    for (l, pts) in series {
        let labels = Labels::from_pairs(l.iter().copied());
        for &(t, v) in pts {
            app.append(&labels, t, v).unwrap();
        }
    }
    app.commit().unwrap();
    TestDb { _dir: dir, db }
}

/// `start + i*step` values `v0 + i*dv` for i in 0..=n, every `interval` ms.
pub(crate) fn ramp(v0: f64, dv: f64, n: usize, interval: i64) -> Vec<(i64, f64)> {
    (0..=n)
        .map(|i| (i as i64 * interval, v0 + dv * i as f64))
        .collect()
}

fn sel(name: &str, extra: &[(&str, &str)]) -> VectorSelector {
    let mut matchers = vec![Matcher::equal("__name__", name)];
    for (n, v) in extra {
        matchers.push(Matcher::new(MatchOp::Equal, *n, *v).unwrap());
    }
    VectorSelector {
        name: Some(name.into()),
        matchers,
        offset: 0,
        at: None,
    }
}

fn vs(name: &str) -> Expr {
    Expr::Vector(sel(name, &[]))
}

fn ms(name: &str, range: i64) -> Expr {
    Expr::Matrix(MatrixSelector {
        vector: sel(name, &[]),
        range,
    })
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Call {
        func: crate::functions::lookup(name).unwrap(),
        args,
        pos: Default::default(),
        arg_pos: Vec::new(),
    })
}

fn agg(op: AggOp, e: Expr, by: &[&str]) -> Expr {
    Expr::Aggregate(AggregateExpr {
        op,
        expr: Box::new(e),
        param: None,
        grouping: by.iter().map(|s| s.to_string()).collect(),
        without: false,
        param_pos: Default::default(),
    })
}

fn bin(op: BinOp, l: Expr, r: Expr) -> Expr {
    let vv = l.value_type() == ValueType::Vector && r.value_type() == ValueType::Vector;
    Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(l),
        rhs: Box::new(r),
        matching: vv.then(|| VectorMatching {
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

fn vector(r: QueryResult) -> Vec<(String, f64)> {
    match r.value {
        Value::Vector(v) => {
            let mut out: Vec<(String, f64)> =
                v.into_iter().map(|s| (s.metric.to_string(), s.v)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("not a vector: {other:?}"),
    }
}

const M: i64 = 60_000;

fn http_db() -> TestDb {
    load(&[
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "0"),
            ],
            ramp(0.0, 10.0, 10, M),
        ),
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "1"),
            ],
            ramp(0.0, 20.0, 10, M),
        ),
        (
            &[
                ("__name__", "http_requests_total"),
                ("job", "db"),
                ("instance", "0"),
            ],
            ramp(0.0, 30.0, 10, M),
        ),
    ])
}

#[test]
fn instant_selector_lookback_and_staleness() {
    let t = load(&[
        (&[("__name__", "a")], vec![(0, 1.0), (60_000, 2.0)]),
        (
            &[("__name__", "b")],
            vec![(0, 1.0), (60_000, storage::stale_nan())],
        ),
    ]);
    let e = Engine::new(EngineOptions::default());
    assert_eq!(
        vector(e.instant(&t.db, &vs("a"), 60_000).unwrap()),
        vec![("{__name__=\"a\"}".into(), 2.0)]
    );
    assert_eq!(vector(e.instant(&t.db, &vs("b"), 30_000).unwrap()).len(), 1);
    assert!(vector(e.instant(&t.db, &vs("b"), 60_000).unwrap()).is_empty());
    // Lookback is left-open: a sample exactly 5m old is not seen.
    assert_eq!(
        vector(e.instant(&t.db, &vs("a"), 359_999).unwrap()).len(),
        1
    );
    assert!(vector(e.instant(&t.db, &vs("a"), 360_000).unwrap()).is_empty());
}

#[test]
fn rate_sum_and_binary() {
    let t = http_db();
    let e = Engine::new(EngineOptions::default());
    let r = e
        .instant(
            &t.db,
            &agg(
                AggOp::Sum,
                call("rate", vec![ms("http_requests_total", 5 * M)]),
                &["job"],
            ),
            10 * M,
        )
        .unwrap();
    let v = vector(r);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].0, "{job=\"api\"}");
    assert!((v[0].1 - 0.5).abs() < 1e-9, "{v:?}");
    assert!((v[1].1 - 0.5).abs() < 1e-9, "{v:?}");

    let r = e
        .instant(
            &t.db,
            &bin(BinOp::Mul, vs("http_requests_total"), Expr::Number(2.0)),
            10 * M,
        )
        .unwrap();
    let v = vector(r);
    assert_eq!(v[0], ("{instance=\"0\", job=\"api\"}".into(), 200.0));

    let r = e
        .instant(
            &t.db,
            &bin(BinOp::Gtr, vs("http_requests_total"), Expr::Number(150.0)),
            10 * M,
        )
        .unwrap();
    assert_eq!(vector(r).len(), 2);

    // Vector/vector one-to-one.
    let r = e
        .instant(
            &t.db,
            &bin(
                BinOp::Sub,
                vs("http_requests_total"),
                vs("http_requests_total"),
            ),
            10 * M,
        )
        .unwrap();
    assert!(vector(r).iter().all(|s| s.1 == 0.0));
}

#[test]
fn range_query_matrix_sorted() {
    let t = http_db();
    let e = Engine::new(EngineOptions::default());
    let r = e
        .range(
            &t.db,
            &agg(AggOp::Count, vs("http_requests_total"), &[]),
            0,
            20 * M,
            5 * M,
        )
        .unwrap();
    match r.value {
        Value::Matrix(m) => {
            assert_eq!(m.len(), 1);
            // Samples end at 10m, lookback 5m: present at 0, 5m, 10m, (15m excluded).
            assert_eq!(m[0].points, vec![(0, 3.0), (5 * M, 3.0), (10 * M, 3.0)]);
        }
        other => panic!("{other:?}"),
    }
    let r = e.range(&t.db, &Expr::Number(1.0), 0, 2 * M, M).unwrap();
    assert_eq!(
        r.value,
        Value::Matrix(vec![crate::Series {
            metric: Labels::default(),
            points: vec![(0, 1.0), (M, 1.0), (2 * M, 1.0)]
        }])
    );
}

#[test]
fn duplicate_labelset_and_many_to_many_errors() {
    let t = load(&[
        (&[("__name__", "a"), ("x", "1")], ramp(1.0, 0.0, 2, M)),
        (&[("__name__", "b"), ("x", "1")], ramp(1.0, 0.0, 2, M)),
    ]);
    let e = Engine::new(EngineOptions::default());
    let any = Expr::Vector(VectorSelector {
        name: None,
        matchers: vec![Matcher::equal("x", "1")],
        offset: 0,
        at: None,
    });
    let err = e
        .instant(&t.db, &call("abs", vec![any.clone()]), M)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    // A range function drops the name too; the check must look at the
    // labels before they are handed to the output.
    for q in ["rate({x=\"1\"}[5m])", "max_over_time({x=\"1\"}[5m])"] {
        let err = e
            .instant(&t.db, &crate::parse(q).unwrap(), M)
            .map(|r| r.value)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector cannot contain metrics with the same labelset",
            "{q}"
        );
    }
    let mut b = bin(BinOp::Add, vs("a"), any);
    if let Expr::Binary(be) = &mut b {
        be.matching.as_mut().unwrap().on = true;
        be.matching.as_mut().unwrap().labels = vec![];
    }
    let err = e.instant(&t.db, &b, M).unwrap_err().to_string();
    assert!(
        err.starts_with("found duplicate series for the match group {} on the right hand-side"),
        "{err}"
    );
}

#[test]
fn subquery_and_over_time() {
    let t = http_db();
    let e = Engine::new(EngineOptions::default());
    let sq = Expr::Subquery(SubqueryExpr {
        expr: Box::new(vs("http_requests_total")),
        range: 5 * M,
        step: Some(M),
        offset: 0,
        at: None,
    });
    let r = e
        .instant(&t.db, &call("count_over_time", vec![sq.clone()]), 10 * M)
        .unwrap();
    assert!(vector(r).iter().all(|s| s.1 == 5.0));
    let r = e.instant(&t.db, &sq, 10 * M).unwrap();
    match r.value {
        Value::Matrix(m) => assert_eq!(m[0].points.len(), 5),
        other => panic!("{other:?}"),
    }
    let r = e
        .instant(
            &t.db,
            &call("last_over_time", vec![ms("http_requests_total", 5 * M)]),
            10 * M,
        )
        .unwrap();
    assert!(vector(r)[0].0.contains("__name__"));
}

#[test]
fn cancel_and_sample_limit() {
    let t = http_db();
    let e = Engine::new(EngineOptions {
        max_samples: 2,
        ..EngineOptions::default()
    });
    let err = e
        .instant(&t.db, &vs("http_requests_total"), 10 * M)
        .unwrap_err();
    assert!(matches!(err, Error::TooManySamples(_)));
    let e = Engine::new(EngineOptions::default());
    let flag = std::sync::atomic::AtomicBool::new(true);
    let err = e
        .instant_with_cancel(&t.db, &vs("http_requests_total"), 0, &flag)
        .unwrap_err();
    assert!(matches!(err, Error::Canceled(_)));
}

/// `cargo test --release -p ferroprom-promql perf_rate -- --ignored --nocapture`
#[test]
#[ignore]
fn perf_rate_2000_series_1000_steps() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        compaction_interval: None,
        retention: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let labels: Vec<Labels> = (0..2000)
        .map(|i| Labels::from_pairs([("__name__", "a_total".to_string()), ("i", i.to_string())]))
        .collect();
    for k in 0..1000i64 {
        let mut app = db.appender();
        for l in &labels {
            app.append(l, k * 15_000, k as f64).unwrap();
        }
        app.commit().unwrap();
    }
    let e = Engine::new(EngineOptions::default());
    let expr = call("rate", vec![ms("a_total", M)]);
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let r = e
            .range(&db, &expr, 60_000, 60_000 + 999 * 15_000, 15_000)
            .unwrap();
        let el = t0.elapsed();
        match r.value {
            Value::Matrix(m) => assert_eq!(m.len(), 2000),
            _ => unreachable!(),
        }
        eprintln!("rate over 2000 series x 1000 steps: {el:?}");
    }
}

fn q(s: &str) -> Expr {
    crate::parser::parse(s).unwrap()
}

/// Two metrics with the same labels apart from the name; `b` only has
/// samples from 5m on.
fn two_metrics_db() -> TestDb {
    load(&[
        (&[("__name__", "a"), ("x", "1")], ramp(0.0, 1.0, 10, M)),
        (
            &[("__name__", "b"), ("x", "1")],
            ramp(0.0, 2.0, 5, M)
                .into_iter()
                .map(|(t, v)| (t + 5 * M, v))
                .collect(),
        ),
    ])
}

fn delayed_engine() -> Engine {
    Engine::new(EngineOptions {
        delayed_name_removal: true,
        ..EngineOptions::default()
    })
}

fn one(r: QueryResult) -> (String, f64) {
    let v = vector(r);
    assert_eq!(v.len(), 1, "{v:?}");
    v.into_iter().next().unwrap()
}

#[test]
fn eager_name_removal_by_default() {
    let t = two_metrics_db();
    let e = Engine::new(EngineOptions::default());
    assert!(!e.options().delayed_name_removal);
    let at = 4 * M;
    // The name is gone before label_replace / the aggregation see it.
    assert_eq!(
        one(e
            .instant(
                &t.db,
                &q(r#"label_replace(rate(a[5m]), "n", "x$1", "__name__", "(.*)")"#),
                at
            )
            .unwrap()),
        (r#"{n="x", x="1"}"#.into(), 4.0 / 300.0)
    );
    assert_eq!(
        one(e.instant(&t.db, &q("sum by (__name__) (-a)"), at).unwrap()),
        ("{}".into(), -4.0)
    );
    // Two metrics collide as soon as the name is dropped.
    let err = e
        .instant(&t.db, &q(r#"sum by (x) (-{x="1"})"#), 6 * M)
        .unwrap_err();
    assert_eq!(err.to_string(), eval::DUPLICATE_LABELSET);
}

#[test]
fn delayed_name_removal_marks_and_removes_at_the_end() {
    let t = two_metrics_db();
    let e = delayed_engine();
    let at = 4 * M;
    let run = |s: &str, at: i64| e.instant(&t.db, &q(s), at);
    for (query, want) in [
        ("-a", (r#"{x="1"}"#, -4.0)),
        ("a * 2", (r#"{x="1"}"#, 8.0)),
        ("a + a", (r#"{x="1"}"#, 8.0)),
        ("a > 1", (r#"{__name__="a", x="1"}"#, 4.0)),
        ("a > bool 1", (r#"{x="1"}"#, 1.0)),
        ("abs(a)", (r#"{x="1"}"#, 4.0)),
        ("last_over_time(a[5m])", (r#"{__name__="a", x="1"}"#, 4.0)),
        ("last_over_time(abs(a)[5m:])", (r#"{x="1"}"#, 4.0)),
        ("sum by (__name__) (a)", (r#"{__name__="a"}"#, 4.0)),
        ("sum by (__name__) (-a)", ("{}", -4.0)),
        ("sum by (__name__) (a or -a)", (r#"{__name__="a"}"#, 4.0)),
        ("topk(1, -a)", (r#"{x="1"}"#, -4.0)),
        ("sum without (x) (a)", ("{}", 4.0)),
        (
            r#"label_replace(rate(a[5m]), "n", "x$1", "__name__", "(.*)")"#,
            (r#"{n="xa", x="1"}"#, 4.0 / 300.0),
        ),
        (
            r#"label_replace(-a, "__name__", "neg_$1", "__name__", "(.*)")"#,
            (r#"{__name__="neg_a", x="1"}"#, -4.0),
        ),
        (
            r#"label_join(-a, "__name__", "_", "__name__", "x")"#,
            (r#"{__name__="a_1", x="1"}"#, -4.0),
        ),
        // A label_replace that does not match keeps the mark.
        (
            r#"label_replace(-a, "__name__", "z", "x", "nomatch")"#,
            (r#"{x="1"}"#, -4.0),
        ),
    ] {
        assert_eq!(
            one(run(query, at).unwrap()),
            (want.0.to_string(), want.1),
            "{query}"
        );
    }
    // Aggregating two to-be-renamed metrics is fine ...
    assert_eq!(
        one(run(r#"sum by (x) (-{x="1"})"#, 6 * M).unwrap()),
        (r#"{x="1"}"#.into(), -8.0)
    );
    // ... but keeping them apart until the end is not.
    for query in [r#"-{x="1"}"#, r#"sum by (__name__) (-{x="1"})"#] {
        let err = run(query, 6 * M).unwrap_err();
        assert_eq!(err.to_string(), eval::DUPLICATE_LABELSET, "{query}");
    }
    // Before `b` has samples there is no collision.
    assert_eq!(
        one(run(r#"-{x="1"}"#, at).unwrap()),
        (r#"{x="1"}"#.into(), -4.0)
    );
}

#[test]
fn delayed_name_removal_range_query_merges_series() {
    let t = two_metrics_db();
    let e = delayed_engine();
    // `a` until 4m, `b` from 5m: one series once the names are gone.
    let r = e.range(&t.db, &q("-(a < 5) or -b"), 0, 10 * M, M).unwrap();
    let Value::Matrix(m) = r.value else {
        panic!("not a matrix")
    };
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].metric.to_string(), r#"{x="1"}"#);
    let want: Vec<(i64, f64)> = (0..=10)
        .map(|i| {
            (
                i * M,
                if i < 5 {
                    -(i as f64)
                } else {
                    -2.0 * (i - 5) as f64
                },
            )
        })
        .collect();
    assert_eq!(m[0].points, want);
    // Overlapping steps are an error.
    let err = e.range(&t.db, &q(r#"-{x="1"}"#), 0, 10 * M, M).unwrap_err();
    assert_eq!(err.to_string(), eval::DUPLICATE_LABELSET);
    // Without delayed removal the same query merges eagerly.
    let eager = Engine::new(EngineOptions::default());
    let r = eager
        .range(&t.db, &q("-(a < 5) or -b"), 0, 10 * M, M)
        .unwrap();
    let Value::Matrix(m2) = r.value else {
        panic!("not a matrix")
    };
    assert_eq!(m2, m);
}

/// Sample statistics, checked against the numbers of upstream's
/// `TestQueryStatistics` (float series only).
#[test]
fn query_statistics_match_upstream() {
    let every_10s = ramp(1.0, 1.0, 100, 10_000);
    let t = load(&[
        (
            &[("__name__", "metricWith1SampleEvery10Seconds")],
            every_10s.clone(),
        ),
        (
            &[
                ("__name__", "metricWith3SampleEvery10Seconds"),
                ("a", "1"),
                ("b", "1"),
            ],
            every_10s.clone(),
        ),
        (
            &[
                ("__name__", "metricWith3SampleEvery10Seconds"),
                ("a", "2"),
                ("b", "2"),
            ],
            every_10s.clone(),
        ),
        (
            &[
                ("__name__", "metricWith3SampleEvery10Seconds"),
                ("a", "3"),
                ("b", "2"),
            ],
            every_10s,
        ),
    ]);
    let e = Engine::new(EngineOptions::default());
    let opts = QueryOptions {
        per_step_stats: true,
        ..QueryOptions::default()
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let instant = |q: &str, at_s: i64, total: u64| {
        let expr = crate::parse(q).unwrap();
        let r = e
            .instant_with_options(&t.db, &expr, at_s * 1000, &opts, &never)
            .unwrap();
        assert_eq!(r.stats.total_samples, total, "{q}");
        assert_eq!(r.stats.samples_per_step, vec![total], "{q}");
        r.stats
    };
    assert_eq!(instant("1", 21, 0).peak_samples, 1);
    assert_eq!(
        instant("metricWith1SampleEvery10Seconds", 21, 1).peak_samples,
        1
    );
    instant("timestamp(metricWith1SampleEvery10Seconds)", 21, 1);
    instant("metricWith1SampleEvery10Seconds offset 10s", 21, 1);
    instant(r#"metricWith3SampleEvery10Seconds{a="1"}[20s] @ 19"#, 21, 2);
    assert_eq!(
        instant("metricWith3SampleEvery10Seconds", 21, 3).peak_samples,
        3
    );
    assert_eq!(
        instant("metricWith1SampleEvery10Seconds[60s]", 201, 6).peak_samples,
        6
    );
    instant(
        "max_over_time(metricWith1SampleEvery10Seconds[60s])[20s:5s]",
        201,
        24,
    );
    instant(
        "max_over_time(metricWith1SampleEvery10Seconds[61s])[20s:5s]",
        201,
        26,
    );
    instant("metricWith1SampleEvery10Seconds[60s] @ 30", 201, 4);
    instant(
        "sum(max_over_time(metricWith3SampleEvery10Seconds[60s] @ 30))",
        201,
        12,
    );
    instant(
        "max_over_time(metricWith3SampleEvery10Seconds[60s])",
        201,
        18,
    );
    instant(
        "absent_over_time(metricWith1SampleEvery10Seconds[60s])",
        201,
        6,
    );
    assert_eq!(
        instant("metricWith1SampleEvery10Seconds[60s:5s]", 201, 12).peak_samples,
        12
    );
    instant(
        "max_over_time(metricWith3SampleEvery10Seconds[60s:5s])",
        201,
        36,
    );
    instant(
        "sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s])) + sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s]))",
        201,
        72,
    );

    let range = |q: &str, start_s: i64, end_s: i64, step_s: i64, per_step: &[u64]| {
        let expr = crate::parse(q).unwrap();
        let r = e
            .range_with_options(
                &t.db,
                &expr,
                start_s * 1000,
                end_s * 1000,
                step_s * 1000,
                &opts,
                &never,
            )
            .unwrap();
        assert_eq!(r.stats.samples_per_step, per_step, "{q}");
        assert_eq!(r.stats.total_samples, per_step.iter().sum::<u64>(), "{q}");
        r.stats
    };
    let s = range(
        r#"metricWith3SampleEvery10Seconds{a="1"}"#,
        201,
        220,
        5,
        &[1, 1, 1, 1],
    );
    assert_eq!(s.peak_samples, 4);
    range(
        r#"metricWith3SampleEvery10Seconds{a="1"}"#,
        204,
        223,
        5,
        &[1, 1, 1, 1],
    );
    range(
        "timestamp(metricWith1SampleEvery10Seconds)",
        201,
        220,
        5,
        &[1, 1, 1, 1],
    );
    range(
        r#"max_over_time(metricWith3SampleEvery10Seconds{a="1"}[10s])"#,
        991,
        1021,
        10,
        &[1, 1, 0, 0],
    );
    range(
        r#"metricWith3SampleEvery10Seconds{a="1"} offset 10s"#,
        201,
        220,
        5,
        &[1, 1, 1, 1],
    );
    range(
        "max_over_time(metricWith3SampleEvery10Seconds[60s] @ 30)",
        201,
        220,
        5,
        &[12; 4],
    );
    let s = range("metricWith3SampleEvery10Seconds", 201, 220, 5, &[3; 4]);
    assert_eq!(s.peak_samples, 12);
    range(
        "max_over_time(metricWith3SampleEvery10Seconds[60s])",
        201,
        220,
        5,
        &[18; 4],
    );
    range(
        "max_over_time(metricWith3SampleEvery10Seconds[60s:5s])",
        201,
        220,
        5,
        &[36; 4],
    );
    range(
        "sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s])) + sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s]))",
        201,
        220,
        5,
        &[72; 4],
    );

    // Without per-step tracking only the totals are kept; timings are set.
    let r = e
        .range_with_options(
            &t.db,
            &crate::parse("metricWith3SampleEvery10Seconds").unwrap(),
            201_000,
            220_000,
            5_000,
            &QueryOptions::default(),
            &never,
        )
        .unwrap();
    assert!(r.stats.samples_per_step.is_empty());
    assert_eq!(r.stats.total_samples, 12);
    assert!(r.stats.eval_time >= r.stats.prepare_time + r.stats.sort_time);
    assert!(r.stats.prepare_time > std::time::Duration::ZERO);
}

#[test]
fn per_query_options_override_the_engine() {
    let t = load(&[(&[("__name__", "m")], vec![(0, 1.0)])]);
    let e = Engine::new(EngineOptions::default());
    let never = std::sync::atomic::AtomicBool::new(false);
    let expr = vs("m");
    // 7 minutes after the only sample: beyond the default 5m lookback.
    let at = 7 * 60_000;
    let default = e
        .instant_with_options(&t.db, &expr, at, &QueryOptions::default(), &never)
        .unwrap();
    assert_eq!(default.value, Value::Vector(vec![]));
    let longer = QueryOptions {
        lookback_delta: Some(10 * 60_000),
        ..QueryOptions::default()
    };
    let r = e
        .instant_with_options(&t.db, &expr, at, &longer, &never)
        .unwrap();
    assert!(matches!(r.value, Value::Vector(ref v) if v.len() == 1));
    // Zero keeps the engine's lookback, as upstream.
    let zero = QueryOptions {
        lookback_delta: Some(0),
        ..QueryOptions::default()
    };
    let r = e
        .instant_with_options(&t.db, &expr, at, &zero, &never)
        .unwrap();
    assert_eq!(r.value, Value::Vector(vec![]));
    let no_time = QueryOptions {
        timeout: Some(std::time::Duration::ZERO),
        ..QueryOptions::default()
    };
    let err = e
        .instant_with_options(&t.db, &expr, at, &no_time, &never)
        .unwrap_err();
    assert_eq!(err.to_string(), "query timed out in expression evaluation");
    // An engine without a practical limit.
    let unlimited = Engine::new(EngineOptions {
        timeout: std::time::Duration::MAX,
        ..EngineOptions::default()
    });
    assert!(unlimited.instant(&t.db, &expr, 0).is_ok());
}

/// Storage that records the hints of every select and warns once per
/// select, to see what the engine sends and keeps.
struct Recording<'a> {
    db: &'a Db,
    seen: std::sync::Mutex<Vec<storage::querier::SelectHints>>,
}

struct RecordingQuerier<'a> {
    inner: Box<dyn storage::querier::Querier + 'a>,
    seen: &'a std::sync::Mutex<Vec<storage::querier::SelectHints>>,
}

impl storage::querier::Queryable for Recording<'_> {
    fn querier(
        &self,
        mint: i64,
        maxt: i64,
    ) -> storage::Result<Box<dyn storage::querier::Querier + '_>> {
        Ok(Box::new(RecordingQuerier {
            inner: self.db.querier(mint, maxt)?,
            seen: &self.seen,
        }))
    }
}

impl storage::querier::Querier for RecordingQuerier<'_> {
    fn select(
        &self,
        hints: &storage::querier::SelectHints,
        matchers: &[Matcher],
    ) -> storage::Result<storage::querier::SeriesSet> {
        self.seen.lock().unwrap().push(hints.clone());
        let mut set = self.inner.select(hints, matchers)?;
        set.warnings.push("remote_read: down".into());
        Ok(set)
    }

    fn label_names(&self, matchers: &[Matcher]) -> storage::Result<(Vec<String>, Vec<String>)> {
        self.inner.label_names(matchers)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
    ) -> storage::Result<(Vec<String>, Vec<String>)> {
        self.inner.label_values(name, matchers)
    }
}

/// Each select is hinted with its window, the query step, the nearest
/// function or aggregation above it (none across an operator) and its
/// range; storage warnings reach the result once, before the engine's.
#[test]
fn selects_carry_hints_and_storage_warnings() {
    let t = load(&[(&[("__name__", "a")], ramp(0.0, 1.0, 20, 15_000))]);
    let q = Recording {
        db: &t.db,
        seen: Default::default(),
    };
    let e = Engine::new(EngineOptions::default());
    let expr = crate::parse("sum(rate(a[1m])) + a + quantile(2, a)").unwrap();
    let r = e.range(&q, &expr, 120_000, 240_000, 60_000).unwrap();
    let lookback = EngineOptions::default().lookback_delta;
    let seen: Vec<_> = q
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|h| (h.start, h.end, h.step, h.func, h.range, h.labels_only))
        .collect();
    assert_eq!(
        seen,
        [
            (60_001, 240_000, 60_000, Some("rate"), 60_000, false),
            (120_001 - lookback, 240_000, 60_000, None, 0, false),
            (
                120_001 - lookback,
                240_000,
                60_000,
                Some("quantile"),
                0,
                false
            ),
        ]
    );
    assert_eq!(r.warnings[0], "remote_read: down");
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r.warnings[1].contains("quantile value should be between 0 and 1"));
}

/// Queries whose step count comes from the user (subquery and range query
/// grids) must fail with the sample limit before anything sized by the
/// step count is allocated, never abort the process.
#[test]
fn huge_step_counts_hit_the_sample_limit() {
    let t = http_db();
    let e = Engine::new(EngineOptions::default());
    let too_many = |r: Result<QueryResult>, q: &str| match r {
        Err(Error::TooManySamples(_)) => {}
        other => panic!("{q}: {other:?}"),
    };
    for q in [
        "count_over_time(http_requests_total[100y:1ms])",
        "http_requests_total[100y:1ms]",
        "max_over_time(vector(1)[100y:1ms])",
        "sum_over_time(rate(http_requests_total[5m])[100y:1ms])",
        "count_over_time(count_over_time(http_requests_total[1h:1ms])[100y:1h])",
        "count_over_time(http_requests_total[10000y:1ms] offset -10000y)",
        "count_over_time(http_requests_total[10000y:1ms] offset 10000y)",
    ] {
        too_many(e.instant(&t.db, &crate::parse(q).unwrap(), 10 * M), q);
    }
    // As a subquery inside a range query.
    let q = "count_over_time(http_requests_total[100y:1ms])";
    too_many(e.range(&t.db, &crate::parse(q).unwrap(), 0, 10 * M, M), q);
    // A range query with trillions of steps.
    too_many(
        e.range(&t.db, &crate::parse("1").unwrap(), 0, i64::MAX / 2, 1),
        "1 over i64::MAX/2 ms",
    );
    let stats = QueryOptions {
        per_step_stats: true,
        ..QueryOptions::default()
    };
    let flag = std::sync::atomic::AtomicBool::new(false);
    too_many(
        e.range_with_options(
            &t.db,
            &crate::parse("1").unwrap(),
            0,
            1 << 50,
            1,
            &stats,
            &flag,
        ),
        "per-step stats over 2^50 steps",
    );
}

/// The limit counts steps against `max_samples`: grids within it still
/// evaluate, and huge parameters of `topk`/`bottomk`/`limitk` are not
/// capacities.
#[test]
fn large_but_bounded_queries_still_work() {
    let t = http_db();
    let e = Engine::new(EngineOptions::default());
    let r = e
        .range(&t.db, &crate::parse("1").unwrap(), 0, 10_999 * 1000, 1000)
        .unwrap();
    match r.value {
        Value::Matrix(m) => assert_eq!(m[0].points.len(), 11_000),
        other => panic!("{other:?}"),
    }
    let n = vector(
        e.instant(&t.db, &crate::parse("http_requests_total").unwrap(), 10 * M)
            .unwrap(),
    )
    .len();
    for q in [
        "topk(1e18, http_requests_total)",
        "bottomk(1e18, http_requests_total)",
        "limitk(1e18, http_requests_total)",
    ] {
        let r = e.instant(&t.db, &crate::parse(q).unwrap(), 10 * M).unwrap();
        assert_eq!(vector(r).len(), n, "{q}");
    }
    // Exactly at the limit of steps is allowed, one more is not.
    let small = Engine::new(EngineOptions {
        max_samples: 100,
        ..EngineOptions::default()
    });
    let one = crate::parse("1").unwrap();
    small.range(&t.db, &one, 0, 99, 1).unwrap();
    assert!(matches!(
        small.range(&t.db, &one, 0, 100, 1),
        Err(Error::TooManySamples(_))
    ));
}

/// Many series over many steps: each step holds few samples, but the
/// output (series × steps) is over the limit, so the query fails before
/// its buffers grow past it.
#[test]
fn series_times_steps_hit_the_sample_limit() {
    let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let labels: Vec<[(&str, &str); 2]> = ids
        .iter()
        .map(|i| [("__name__", "m"), ("i", i.as_str())])
        .collect();
    let input: Vec<TestSeries<'_>> = labels
        .iter()
        .map(|l| (&l[..], ramp(0.0, 1.0, 100, 15_000)))
        .collect();
    let t = load(&input);
    let e = Engine::new(EngineOptions {
        max_samples: 1_000,
        ..EngineOptions::default()
    });
    // 20 series × 100 steps = 2,000 points; 20 per step.
    for q in ["m", "rate(m[1m])", "m * 2", "sum_over_time(m[1m:15s])"] {
        let expr = crate::parse(q).unwrap();
        assert!(
            matches!(
                e.range(&t.db, &expr, 15_000, 1_500_000, 15_000),
                Err(Error::TooManySamples(_))
            ),
            "{q}"
        );
        // 40 steps × 20 series stay within it.
        e.range(&t.db, &expr, 15_000, 600_000, 15_000)
            .unwrap_or_else(|err| panic!("{q}: {err}"));
    }
}
