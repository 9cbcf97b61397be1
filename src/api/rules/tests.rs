use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};
use storage::Labels;

use super::*;
use crate::rules::{AlertSnapshot, AlertState, AlertingSnapshot, Health, RuleSnapshot};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn alert(instance: &str, state: AlertState, value: f64) -> AlertSnapshot {
    AlertSnapshot {
        labels: Labels::from_pairs([("alertname", "High"), ("instance", instance)]),
        annotations: map(&[("summary", "high")]),
        state,
        active_at_ms: 1_700_000_000_250,
        keep_firing_since_ms: None,
        value,
    }
}

fn recording(name: &str, labels: &[(&str, &str)]) -> RuleSnapshot {
    RuleSnapshot {
        name: name.into(),
        query: "sum(up)".into(),
        labels: map(labels),
        health: Health::Ok,
        last_error: None,
        evaluation_time: Duration::from_millis(2),
        last_evaluation: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_001_500)),
        alerting: None,
    }
}

fn alerting(alerts: Vec<AlertSnapshot>) -> RuleSnapshot {
    RuleSnapshot {
        name: "High".into(),
        query: "up > 1".into(),
        labels: map(&[("severity", "page")]),
        health: Health::Err,
        last_error: Some("boom".into()),
        evaluation_time: Duration::from_millis(250),
        last_evaluation: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_001)),
        alerting: Some(AlertingSnapshot {
            duration_ms: 90_000,
            keep_firing_for_ms: 0,
            annotations: map(&[("summary", "{{ $value }}")]),
            state: AlertState::Firing,
            alerts,
        }),
    }
}

fn group(file: &str, name: &str, rules: Vec<RuleSnapshot>) -> GroupSnapshot {
    GroupSnapshot {
        name: name.into(),
        file: file.into(),
        interval_ms: 1500,
        limit: 0,
        query_offset_ms: 0,
        evaluation_time: Duration::from_millis(500),
        last_evaluation: None,
        rules,
    }
}

fn fixture() -> Vec<GroupSnapshot> {
    vec![
        group(
            "/r/a.yml",
            "g1",
            vec![
                recording("job:up:sum", &[("team", "a")]),
                alerting(vec![
                    alert("x", AlertState::Firing, 42.0),
                    alert("y", AlertState::Pending, 0.5),
                    alert("z", AlertState::Inactive, 1.0),
                ]),
            ],
        ),
        group("/r/a.yml", "g2", vec![recording("r2", &[])]),
        group("/r/b.yml", "g3", vec![recording("r3", &[("team", "b")])]),
    ]
}

fn list(groups: &[GroupSnapshot], query: &str) -> Result<Value, ApiError> {
    let f = RuleFilter::parse(&Params::parse(query))?;
    let out = success(&discover(groups, &f)?).unwrap();
    Ok(serde_json::from_slice(&out.data).unwrap())
}

/// The listed rules' names, group by group.
fn names(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for g in v["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            out.push(r["name"].as_str().unwrap().to_string());
        }
    }
    out
}

#[test]
fn shapes_as_prometheus() {
    let v = list(&fixture(), "").unwrap();
    assert_eq!(
        v["groups"][0],
        json!({
            "name": "g1", "file": "/r/a.yml", "interval": 1.5, "limit": 0,
            "evaluationTime": 0.5, "lastEvaluation": "0001-01-01T00:00:00Z",
            "rules": [
                {"name": "job:up:sum", "query": "sum(up)", "labels": {"team": "a"},
                 "health": "ok", "evaluationTime": 0.002,
                 "lastEvaluation": "2023-11-14T22:13:21.5Z", "type": "recording"},
                {"state": "firing", "name": "High", "query": "up > 1", "duration": 90,
                 "keepFiringFor": 0, "labels": {"severity": "page"},
                 "annotations": {"summary": "{{ $value }}"},
                 "alerts": [
                    {"labels": {"alertname": "High", "instance": "x"},
                     "annotations": {"summary": "high"}, "state": "firing",
                     "activeAt": "2023-11-14T22:13:20.25Z", "value": "4.2e+01"},
                    {"labels": {"alertname": "High", "instance": "y"},
                     "annotations": {"summary": "high"}, "state": "pending",
                     "activeAt": "2023-11-14T22:13:20.25Z", "value": "5e-01"},
                 ],
                 "health": "err", "lastError": "boom", "evaluationTime": 0.25,
                 "lastEvaluation": "2023-11-14T22:13:21Z", "type": "alerting"},
            ]
        })
    );
    assert!(v.get("groupNextToken").is_none());
}

#[test]
fn unevaluated_alerting_rule_is_unknown() {
    let mut r = alerting(vec![]);
    r.last_evaluation = None;
    let v = list(&[group("f", "g", vec![r])], "").unwrap();
    let rule = &v["groups"][0]["rules"][0];
    assert_eq!(rule["state"], "unknown");
    assert_eq!(rule["alerts"], json!([]));
}

#[test]
fn filters() {
    let g = fixture();
    let n = |q: &str| names(&list(&g, q).unwrap());
    assert_eq!(n("type=ALERT"), ["High"]);
    assert_eq!(n("type=record"), ["job:up:sum", "r2", "r3"]);
    assert_eq!(n("rule_name[]=r3&rule_name[]=High"), ["High", "r3"]);
    assert_eq!(n("rule_group[]=g2"), ["r2"]);
    assert_eq!(n("file[]=/r/b.yml&rule_group[]=g1"), Vec::<String>::new());
    assert_eq!(n("match[]={team=~\"a|b\"}"), ["job:up:sum", "r3"]);
    assert_eq!(
        n("match[]={team=\"b\"}&match[]={severity=\"page\"}"),
        ["High", "r3"]
    );
    // A group whose rules are all filtered out is not listed.
    let v = list(&g, "type=alert").unwrap();
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    let v = list(&g, "exclude_alerts=TRUE&type=alert").unwrap();
    assert_eq!(v["groups"][0]["rules"][0]["alerts"], Value::Null);
}

#[test]
fn pages() {
    let g = fixture();
    let v = list(&g, "group_limit=2").unwrap();
    assert_eq!(names(&v), ["job:up:sum", "High", "r2"]);
    let token = v["groupNextToken"].as_str().unwrap().to_string();
    assert_eq!(token, group_token(&g[2]));
    let v = list(&g, &format!("group_limit=2&group_next_token={token}")).unwrap();
    assert_eq!(names(&v), ["r3"]);
    assert!(v.get("groupNextToken").is_none());
    assert_eq!(
        group_token(&g[0]),
        "2c3dc36887e1d7b39eb3492c3afda0978e0048314b31f334f0ae39cc7ffb9861"
    );
}

#[test]
fn bad_parameters_read_as_upstream() {
    let g = fixture();
    let e = |q: &str| {
        let e = list(&g, q).unwrap_err();
        assert_eq!(e.kind, super::super::response::ErrorType::BadData, "{q}");
        e.msg
    };
    assert_eq!(
        e("type=Foo"),
        r#"invalid parameter "type": not supported value "foo""#
    );
    assert_eq!(
        e("exclude_alerts=maybe"),
        r#"invalid parameter "exclude_alerts": error converting exclude_alerts: strconv.ParseBool: parsing "maybe": invalid syntax"#
    );
    assert_eq!(
        e("match[]={}"),
        "match[] must contain at least one non-empty matcher"
    );
    assert_eq!(
        e("group_next_token=abc"),
        r#"invalid parameter "group_next_token": group_limit needs to be present in order to paginate over the groups"#
    );
    assert_eq!(
        e("group_limit=x"),
        r#"invalid parameter "group_limit": group_limit needs to be a valid number: strconv.ParseInt: parsing "x": invalid syntax"#
    );
    assert_eq!(
        e("group_limit=9999999999"),
        r#"invalid parameter "group_limit": group_limit needs to be a valid number: strconv.ParseInt: parsing "9999999999": value out of range"#
    );
    assert_eq!(
        e("group_limit=0"),
        r#"invalid parameter "group_limit": group_limit needs to be greater than 0"#
    );
    assert_eq!(
        e("group_limit=1&group_next_token=abc"),
        r#"invalid parameter "group_next_token": invalid group_next_token 'abc'. were rule groups changed?"#
    );
}

#[test]
fn alert_values_in_go_e_form() {
    for (v, s) in [
        (1.0, "1e+00"),
        (42.0, "4.2e+01"),
        (0.000123, "1.23e-04"),
        (1e300, "1e+300"),
        (-2.5, "-2.5e+00"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ] {
        assert_eq!(shape::go_e(v), s);
    }
}
