//! End-to-end expansion tests: whole templates through [`Expander`].

use super::*;

struct FakeQuery;

impl QueryFn for FakeQuery {
    fn query(&self, q: &str, at_ms: i64) -> Result<Vec<QuerySample>, String> {
        let sample = |instance: &str, value: f64| QuerySample {
            labels: [("__name__", "up"), ("instance", instance), ("job", "node")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        };
        match q {
            "up" => Ok(vec![
                sample("b:9100", 1.0),
                sample("c:9100", 0.0),
                sample("a:9100", 1.0),
            ]),
            "empty" => Ok(vec![]),
            "time()" => Ok(vec![QuerySample {
                labels: BTreeMap::new(),
                value: at_ms as f64 / 1000.0,
            }]),
            _ => Err(format!("bad query {q:?}")),
        }
    }
}

fn data(value: f64) -> AlertData {
    AlertData {
        labels: [
            ("instance", "host.example.com:9100"),
            ("job", "node"),
            ("severity", "page"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        external_labels: [("cluster".to_string(), "eu1".to_string())].into(),
        external_url: "http://prom.example.com:9090/prom".into(),
        value: AlertValue::Float(value),
    }
}

fn alert(text: &str, value: f64) -> Result<String, TemplateError> {
    Expander::for_alert(
        "Test",
        text,
        data(value),
        1_600_000_000_000,
        &FakeQuery,
        "http://prom.example.com:9090/prom",
        "/prom",
    )
    .expand()
}

fn ok(text: &str) -> String {
    alert(text, 1234567.0).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn plain(text: &str) -> Result<String, TemplateError> {
    Expander::new("t", text, data(1.0), 0, &FakeQuery, "", "").expand()
}

#[test]
fn alert_variables_and_fields() {
    assert_eq!(
        ok("{{ $labels.instance }} of job {{ $labels.job }}"),
        "host.example.com:9100 of job node"
    );
    assert_eq!(
        ok("{{ .Labels.job }}/{{ $.Labels.job }}/{{ index $labels \"job\" }}"),
        "node/node/node"
    );
    assert_eq!(
        ok("{{ $externalLabels.cluster }} {{ $externalURL }}"),
        "eu1 http://prom.example.com:9090/prom"
    );
    assert_eq!(ok("[{{ $labels.missing }}]"), "[]");
    assert_eq!(ok("{{ $value }}"), "1.234567e+06");
    assert_eq!(alert("{{ $value }}", 100000.0).unwrap(), "100000");
    assert_eq!(alert("{{ $value }}", 0.5).unwrap(), "0.5");
    assert_eq!(
        ok("{{ 3 }} {{ 1.5 }} {{ 1e3 }} {{ true }} {{ \"s\" }} {{ `r` }}"),
        "3 1.5 1000 true s r"
    );
    assert_eq!(ok("{{ $value | humanize }}"), "1.235M");
    assert_eq!(ok("{{ humanize $value }}"), "1.235M");
    assert_eq!(ok("{{ printf \"%.2f\" $value }}"), "1234567.00");
    assert_eq!(ok("{{ .Value | printf \"%.0f\" }}"), "1234567");
}

#[test]
fn text_value_is_a_string() {
    let mut d = data(0.0);
    d.value = AlertValue::Text("{count:2}".into());
    let e = Expander::for_alert("T", "{{ $value }}", d, 0, &FakeQuery, "", "");
    assert_eq!(e.expand().unwrap(), "{count:2}");
}

#[test]
fn control_structures() {
    assert_eq!(
        ok("{{ if gt $value 1000.0 }}big{{ else }}small{{ end }}"),
        "big"
    );
    assert_eq!(ok("{{ if eq $labels.severity \"x\" }}x{{ else if eq $labels.severity \"page\" }}p{{ end }}"), "p");
    assert_eq!(ok("{{ with $labels.job }}job={{ . }}{{ end }}"), "job=node");
    assert_eq!(
        ok("{{ with $labels.none }}x{{ else with $labels.job }}{{ . }}{{ else }}z{{ end }}"),
        "node"
    );
    assert_eq!(
        ok("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}"),
        "instance=host.example.com:9100;job=node;severity=page;"
    );
    assert_eq!(
        ok("{{ range $labels }}{{ . }},{{ end }}"),
        "host.example.com:9100,node,page,"
    );
    assert_eq!(ok("{{ range $i, $s := query \"up\" }}{{ $i }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ end }}"), "01");
    assert_eq!(ok("{{ range $i, $s := query \"up\" }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $i }}{{ end }}"), "02");
    assert_eq!(
        ok("{{ range query \"empty\" }}x{{ else }}none{{ end }}"),
        "none"
    );
    assert_eq!(ok("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        ok("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"),
        "2"
    );
    assert_eq!(
        ok("{{ define \"a\" }}[{{ . }}]{{ end }}{{ template \"a\" $labels.job }}"),
        "[node]"
    );
    assert_eq!(
        ok("{{ block \"b\" $labels.job }}<{{ . }}>{{ end }}"),
        "<node>"
    );
    assert_eq!(
        ok("{{ tmpl \"a\" 5 }}{{ define \"a\" }}({{ . }}){{ end }}"),
        "(5)"
    );
    assert_eq!(ok("{{ (printf \"%s-%s\" \"a\" \"b\") | toUpper }}"), "A-B");
    assert_eq!(
        ok("{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }} {{ not false }}"),
        "0 x true"
    );
    assert_eq!(
        ok("{{ (args 1 \"x\").arg1 }} {{ (args 1).nope }}"),
        "x <no value>"
    );
    // `and` stops at the first false operand, so the failing call never runs.
    assert_eq!(ok("{{ and false (query \"bad\") }}"), "false");
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(ok("a  {{- \"b\" -}}  \n c"), "abc");
    assert_eq!(ok("a {{/* hidden */}} b"), "a  b");
    assert_eq!(ok("a\n{{- /* hidden */ -}}\nb"), "ab");
    assert_eq!(
        ok("{{ range $labels -}}\n  {{ . }}\n{{ end -}}"),
        "host.example.com:9100\nnode\npage\n"
    );
}

#[test]
fn queries() {
    assert_eq!(ok("{{ query \"up\" | first | value }}"), "1");
    assert_eq!(
        ok("{{ with query \"up\" }}{{ . | first | label \"instance\" }}{{ end }}"),
        "b:9100"
    );
    assert_eq!(
        ok("{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }} {{ end }}"),
        "a:9100=1 b:9100=1 c:9100=0 "
    );
    assert_eq!(ok("{{ (query \"up\" | first).Labels.job }}"), "node");
    assert_eq!(ok("{{ len (query \"up\") }}"), "3");
    assert_eq!(ok("{{ (index (query \"up\") 1).Value }}"), "0");
    assert_eq!(
        ok("{{ query \"time()\" | first | value | humanizeTimestamp }}"),
        "2020-09-13 12:26:40 +0000 UTC"
    );
    assert_eq!(
        ok("{{ query \"up\" | first }}"),
        "{map[__name__:up instance:b:9100 job:node] 1}"
    );
    assert_eq!(ok("{{ query \"up\" | first | strvalue }}"), "");
    let e = alert("{{ query \"empty\" | first | value }}", 1.0).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("error calling first: first() called on vector with no elements"),
        "{e}"
    );
    let e = alert("{{ query \"bad\" }}", 1.0).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("error calling query: bad query \"bad\""),
        "{e}"
    );
}

#[test]
fn printf_and_friends() {
    assert_eq!(ok("{{ printf \"%s has %d%% (%5.1f) %q %t %x %v\" \"a\" 5 2.25 \"q\" true 255 $labels.job }}"), "a has 5% (  2.2) \"q\" true ff node");
    assert_eq!(ok("{{ printf \"%d\" \"x\" }}"), "%!d(string=x)");
    assert_eq!(ok("{{ printf \"%s\" }}"), "%!s(MISSING)");
    assert_eq!(
        ok("{{ print 1 2 \"a\" }}|{{ println \"x\" 1 }}"),
        "1 2a|x 1\n"
    );
    assert_eq!(ok("{{ 1.0 | printf \"%v\" }}"), "1");
    assert_eq!(
        ok("{{ html \"<b>\" }} {{ js \"'\" }} {{ urlquery \"a b\" }}"),
        "&lt;b&gt; \\' a+b"
    );
    assert_eq!(
        ok("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}"),
        "host.example.com"
    );
    assert_eq!(
        ok("{{ $labels.instance | stripPort | stripDomain }}"),
        "host"
    );
    assert_eq!(
        ok("{{ if match \"^node$\" $labels.job }}yes{{ end }}"),
        "yes"
    );
    assert_eq!(ok("{{ 3600 | humanizeDuration }} {{ 0.25 | humanizePercentage }} {{ 2048 | humanize1024 }}"), "1h 0m 0s 25% 2ki");
    assert_eq!(
        ok("{{ (parseDuration \"1m\") }} {{ toDuration 90 }} {{ (toTime 0).Unix }} {{ now }}"),
        "60 1m30s 0 1.6e+09"
    );
    assert_eq!(
        ok("{{ graphLink \"up\" }} {{ externalURL }} {{ pathPrefix }}"),
        "/graph?g0.expr=up&g0.tab=0 http://prom.example.com:9090/prom /prom"
    );
    assert_eq!(
        ok("{{ title \"hello world\" }} {{ safeHtml \"<i>\" }} {{ urlQueryEscape \"a&b\" }}"),
        "Hello World <i> a%26b"
    );
    assert_eq!(
        ok("{{ slice \"abcdef\" 1 3 }} {{ len \"abc\" }} {{ index \"abc\" 0 }}"),
        "bc 3 97"
    );
}

#[test]
fn parse_errors_read_as_prometheus() {
    let e = plain("{{ nope }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing template t: template: t:1: function \"nope\" not defined"
    );
    let e = plain("x\n{{ .Labels").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing template t: template: t:2: unclosed action"
    );
    assert_eq!(
        error_annotation(&e),
        "<error expanding template: error parsing template t: template: t:2: unclosed action>"
    );
    assert!(plain("{{ if 1 }}")
        .unwrap_err()
        .to_string()
        .ends_with("unexpected EOF"));
    assert!(matches!(
        plain("{{ end }}"),
        Err(TemplateError::Parse { .. })
    ));
}

#[test]
fn exec_errors_read_as_go() {
    let e = plain("{{ humanize }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error executing template t: template: t:1:3: executing \"t\" at <humanize>: wrong number of args for humanize: want 1 got 0"
    );
    let e = plain("{{ label 1 2 3 }}").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("wrong number of args for label: want 2 got 3"),
        "{e}"
    );
    let e = plain("{{ \"x\" | humanize }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error executing template t: template: t:1:9: executing \"t\" at <humanize>: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax"
    );
    let e = plain("{{ toUpper 3 }}").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("wrong type for value; expected string; got int"),
        "{e}"
    );
    let e = plain("{{ .Labels.job.x }}").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("at <.Labels.job.x>: can't evaluate field x in type string"),
        "{e}"
    );
    let e = plain("{{ template \"none\" }}").unwrap_err();
    assert!(
        e.to_string().ends_with("template \"none\" not defined"),
        "{e}"
    );
    let e = plain("{{ if eq .Value 1 }}{{ end }}").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("error calling eq: incompatible types for comparison"),
        "{e}"
    );
    let e = plain("{{ nil }}").unwrap_err();
    assert!(e.to_string().ends_with("nil is not a command"), "{e}");
    // The lower-case field of a real rule file is an error in Prometheus.
    let e = alert("stuff's happening with {{ $.labels.service }}", 1.0).unwrap_err();
    assert!(
        e.to_string().contains("at <$.labels.service>: can't evaluate field labels in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("error executing template __alert_Test: template: __alert_Test:1:"),
        "{e}"
    );
}

#[test]
fn runaway_templates_stop_with_errors() {
    let e = plain("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}")
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("exceeded maximum template depth (100)"),
        "{e}"
    );
    let e = plain("{{ define \"r\" }}{{ range 1000 }}0123456789012345678901234567890123456789{{ end }}{{ end }}\
                   {{ range 1000 }}{{ template \"r\" }}{{ end }}")
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("template output exceeds 1048576 bytes"),
        "{e}"
    );
    let e = plain("{{ range 100000000 }}{{ end }}").unwrap_err();
    assert!(e.to_string().contains("evaluation steps"), "{e}");
    let deep = "(".repeat(500) + "1" + &")".repeat(500);
    assert!(plain(&format!("{{{{ {deep} }}}}")).is_err());
}

/// Annotations and labels from the shared conformance rule files, when the
/// directory is present: each must parse, and expand without panicking.
#[test]
fn conformance_rule_templates_parse() {
    let Ok(dirs) = std::fs::read_dir("/work/shared/conformance/rules") else {
        return;
    };
    let mut seen = 0;
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(text) = std::fs::read_to_string(f.path()) else {
                continue;
            };
            for line in text.lines() {
                let Some((key, val)) = line.trim().split_once(": ") else {
                    continue;
                };
                if !matches!(key, "summary" | "description") || !val.contains("{{") {
                    continue;
                }
                let val = val.trim_start_matches("&description ").trim_matches('"');
                seen += 1;
                let out = alert(val, 1.0);
                if val.contains("$labels.") {
                    assert!(out.is_ok(), "{val}: {out:?}");
                }
            }
        }
    }
    assert!(seen > 0);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,64}") {
            let _ = plain(&s);
        }

        #[test]
        fn template_shaped_text_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("{{"), Just("}}"), Just("{{- "), Just(" -}}"), Just("if "), Just("else "), Just("end"),
            Just("range "), Just("with "), Just("$x := "), Just("$x"), Just(".Labels"), Just(".Value"),
            Just("| "), Just("("), Just(")"), Just("\""), Just("humanize "), Just("printf \"%d\" "),
            Just("query \"up\" "), Just("first "), Just("1 "), Just("1.5 "), Just("define \"a\""),
            Just("template \"a\" "), Just("break"), Just("/*"), Just("*/"), Just(" "), Just("x"),
            Just("$"), Just("index "), Just("eq "), Just("nil "), Just("tmpl \"a\" ."),
        ], 0..24)) {
            let _ = plain(&parts.concat());
        }
    }
}
