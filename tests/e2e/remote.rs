//! Remote write and remote read through the real router over a real
//! database, and once through the real binary.

use crate::common;
use crate::common::api_state::api_state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use prost::Message;
use serde_json::Value;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Options};
use tower::ServiceExt;

use ferroprom::api::{self, ApiState};
use ferroprom::remote::proto::{
    Label, LabelMatcher, MatcherType, MetricMetadata, MetricType, Query, ReadRequest, ReadResponse,
    ResponseType, Sample, TimeSeries, WriteRequest,
};
use ferroprom::remote::read::server as read;
use ferroprom::remote::xor;

/// The server's default future grace (ms).
const GRACE: i64 = 10 * 60 * 1000;
/// 9999-12-31T23:59:59Z in ms: the timestamp that used to stop ingestion.
const YEAR_9999: i64 = 253_402_300_799_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A base timestamp (ms) well inside the head's valid range.
const T: i64 = 1_700_000_000_000;

struct Harness {
    _dir: tempfile::TempDir,
    app: Router,
}

fn harness(write_enabled: bool, config: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        compaction_interval: None,
        wal: WalOptions {
            segment_size: 64 * 1024,
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        // The server's default `--storage.tsdb.future-sample-grace`.
        future_grace: Some(GRACE),
        ..Options::default()
    };
    let db = Arc::new(Db::open(dir.path(), opts).unwrap());
    let config = ferroprom::config::parse_str(config).unwrap();
    let state = Arc::new(ApiState {
        remote_write_enabled: write_enabled,
        ..api_state(db, config)
    });
    Harness {
        _dir: dir,
        app: api::router(state),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(n, v)| Label {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels(pairs),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

/// A request of `timeseries` without metadata.
fn request(timeseries: Vec<TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

/// Posts `req` to the real binary with the headers Prometheus's sender uses.
fn post_write(srv: &common::Server, req: &WriteRequest) -> reqwest::blocking::Response {
    srv.client
        .post(srv.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(snappy(&req.encode_to_vec()))
        .send()
        .unwrap()
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Posts a raw body with the headers Prometheus's sender uses.
    async fn write_raw(&self, body: Vec<u8>) -> Answer {
        self.send(
            Request::post("/api/v1/write")
                .header(header::CONTENT_ENCODING, "snappy")
                .header(header::CONTENT_TYPE, "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn write(&self, req: &WriteRequest) -> Answer {
        self.write_raw(snappy(&req.encode_to_vec())).await
    }

    async fn read(&self, req: &ReadRequest) -> Answer {
        self.send(
            Request::post("/api/v1/read")
                .header(header::CONTENT_ENCODING, "snappy")
                .header(header::CONTENT_TYPE, "application/x-protobuf")
                .header("X-Prometheus-Remote-Read-Version", "0.1.0")
                .body(Body::from(snappy(&req.encode_to_vec())))
                .unwrap(),
        )
        .await
    }

    async fn get_json(&self, uri: &str) -> Value {
        let a = self
            .send(Request::get(uri).body(Body::empty()).unwrap())
            .await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text());
        serde_json::from_slice(&a.body).unwrap()
    }
}

#[tokio::test]
async fn written_samples_are_queryable_and_metadata_is_kept() {
    let h = harness(true, "");
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "rw_total"), ("job", "a")],
                &[(T, 1.0), (T + 15_000, 2.5)],
            ),
            // Prometheus's sender: one sample per entry, series repeated.
            series(&[("__name__", "rw_total"), ("job", "b")], &[(T, 10.0)]),
            series(
                &[("__name__", "rw_total"), ("job", "b")],
                &[(T + 15_000, 11.0)],
            ),
        ],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: "rw_total".into(),
            help: "Things written.".into(),
            unit: String::new(),
        }],
    };
    let a = h.write(&req).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text());
    assert!(a.body.is_empty());

    let t = (T + 15_000) as f64 / 1000.0;
    let v = h
        .get_json(&format!("/api/v1/query?query=rw_total&time={t}"))
        .await;
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"]["job"], "a");
    assert_eq!(result[0]["value"][1], "2.5");
    assert_eq!(result[1]["value"][1], "11");

    let md = h.get_json("/api/v1/metadata").await;
    assert_eq!(
        md["data"]["rw_total"],
        serde_json::json!([{"type": "counter", "help": "Things written.", "unit": ""}])
    );
}

#[tokio::test]
async fn malformed_and_rejected_writes_are_400() {
    let h = harness(true, "");
    let a = h.write_raw(b"\xff\xff\xff\xff".to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text().contains("snappy"), "{}", a.text());

    let a = h.write_raw(snappy(b"\x0a\xff\xff")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text().contains("protobuf"), "{}", a.text());

    let first = WriteRequest {
        timeseries: vec![series(&[("__name__", "m")], &[(T + 60_000, 1.0)])],
        metadata: vec![],
    };
    assert_eq!(h.write(&first).await.status, StatusCode::NO_CONTENT);
    // One out-of-order sample: 400 with the message; the other series of
    // the request is still written.
    let second = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "m")], &[(T, 2.0)]),
            series(&[("__name__", "other")], &[(T, 3.0)]),
        ],
        metadata: vec![],
    };
    let a = h.write(&second).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.text(),
        "out of order sample for series {__name__=\"m\"}\n"
    );
    let v = h
        .get_json(&format!("/api/v1/query?query=other&time={}", T / 1000))
        .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "3");

    // Invalid label sets are dropped and, as Prometheus 3 answers them in
    // remote write 2.0, reported with 400 so the sender sees why.
    let bad = WriteRequest {
        timeseries: vec![series(&[("job", "no-name")], &[(T, 1.0)])],
        metadata: vec![],
    };
    let a = h.write(&bad).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.text(),
        "invalid metric name or labels, got {job=\"no-name\"}\n"
    );
}

/// A sample far ahead of the clock is refused with 400 naming its series;
/// the request's other series are written, and it does not move the head's
/// time range, so later current samples are still accepted.
#[tokio::test]
async fn far_future_samples_are_400_and_ingestion_goes_on() {
    let h = harness(true, "");
    let now = now_ms();
    let a = h
        .write(&request(vec![
            series(&[("__name__", "future")], &[(YEAR_9999, 1.0)]),
            series(&[("__name__", "present")], &[(now - 1000, 2.0)]),
            series(&[("__name__", "soon")], &[(now + GRACE / 2, 3.0)]),
        ]))
        .await;
    assert_eq!(
        (a.status, a.text().as_str()),
        (
            StatusCode::BAD_REQUEST,
            "out of bounds: timestamp is too far in the future for series {__name__=\"future\"}\n"
        )
    );
    let a = h
        .write(&request(vec![
            series(&[("__name__", "future")], &[(now, 4.0)]),
            series(&[("__name__", "present")], &[(now, 5.0)]),
        ]))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text());
    let t = now as f64 / 1000.0;
    let v = h
        .get_json(&format!(
            "/api/v1/query?query=sum(future)%2Bsum(present)&time={t}"
        ))
        .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "9");
}

/// Label sets over the receiver's limits, without a metric name or with a
/// name twice are refused with 400 and a message each; the request's valid
/// series are still written.
#[tokio::test]
async fn oversized_and_invalid_label_sets_are_400() {
    let h = harness(true, "");
    let mut huge = vec![Label {
        name: "__name__".into(),
        value: "huge".into(),
    }];
    huge.extend((0..1_000_000).map(|i| Label {
        name: format!("l{i:07}"),
        value: "v".into(),
    }));
    let long_value = "x".repeat(64 * 1024 + 1);
    let long_name = "n".repeat(1025);
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: huge,
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: T,
                }],
                ..Default::default()
            },
            series(&[("__name__", "lv"), ("a", &long_value)], &[(T, 1.0)]),
            series(&[("__name__", "ln"), (&long_name, "1")], &[(T, 1.0)]),
            series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(T, 1.0)]),
            series(&[("__name__", "ok")], &[(T, 7.0)]),
        ],
        metadata: vec![],
    };
    let a = h.write(&req).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let text = a.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("invalid labels for series {__name__=\"huge\", l0000000=\"v\"")
            && lines[0].ends_with(", … 999993 more}: 1000001 labels, more than the limit of 200"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("value of label \"a\" is 65537 bytes, more than the limit of 65536"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with("label name of 1025 bytes, more than the limit of 1024"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        "invalid labels for series, labels {__name__=\"dup\", a=\"1\", a=\"2\"}, duplicated label a"
    );
    let v = h
        .get_json(&format!("/api/v1/query?query=ok&time={}", T / 1000))
        .await;
    assert_eq!(v["data"]["result"][0]["value"][1], "7");
    let v = h
        .get_json(&format!(
            "/api/v1/query?query=count(huge%20or%20lv%20or%20ln%20or%20dup)&time={}",
            T / 1000
        ))
        .await;
    assert_eq!(v["data"]["result"], serde_json::json!([]));
}

#[tokio::test]
async fn other_protocols_and_methods_are_refused() {
    let h = harness(true, "");
    let body = snappy(&WriteRequest::default().encode_to_vec());
    let a = h
        .send(
            Request::post("/api/v1/write")
                .header(header::CONTENT_ENCODING, "zstd")
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let a = h
        .send(
            Request::post("/api/v1/write")
                .header(
                    header::CONTENT_TYPE,
                    "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                )
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // No headers at all: taken as 1.0.
    let a = h
        .send(
            Request::post("/api/v1/write")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = h
        .send(Request::get("/api/v1/write").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn disabled_receiver_is_404() {
    let h = harness(false, "");
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "m")], &[(T, 1.0)])],
        metadata: vec![],
    };
    let a = h.write(&req).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.text(), "404 page not found\n");
    let a = h
        .send(Request::get("/api/v1/write").body(Body::empty()).unwrap())
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

const EXT_CONFIG: &str = "global:\n  external_labels:\n    region: eu\n    replica: r1\n";

/// Three series; `replica` is also set on one of them, overriding the
/// external label of that name.
async fn seeded() -> Harness {
    let h = harness(true, EXT_CONFIG);
    let samples: Vec<(i64, f64)> = (0..300).map(|i| (T + i * 10_000, i as f64)).collect();
    let req = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "up"), ("job", "a")], &samples),
            series(
                &[("__name__", "up"), ("job", "b"), ("replica", "own")],
                &samples[..5],
            ),
            series(&[("__name__", "down"), ("job", "a")], &samples[..1]),
        ],
        metadata: vec![],
    };
    assert_eq!(h.write(&req).await.status, StatusCode::NO_CONTENT);
    h
}

fn matcher(t: MatcherType, n: &str, v: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: t as i32,
        name: n.into(),
        value: v.into(),
    }
}

fn read_req(types: &[ResponseType], queries: Vec<(i64, i64, Vec<LabelMatcher>)>) -> ReadRequest {
    ReadRequest {
        queries: queries
            .into_iter()
            .map(|(start, end, matchers)| Query {
                start_timestamp_ms: start,
                end_timestamp_ms: end,
                matchers,
                hints: None,
            })
            .collect(),
        accepted_response_types: types.iter().map(|&t| t as i32).collect(),
    }
}

fn label_map(ls: &[Label]) -> BTreeMap<String, String> {
    ls.iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

#[tokio::test]
async fn read_samples_with_matchers_and_external_labels() {
    let h = seeded().await;
    let req = read_req(
        &[ResponseType::Samples],
        vec![
            // Matching on an external label selects everything it is on.
            (
                T,
                T + 20_000,
                vec![
                    matcher(MatcherType::Eq, "__name__", "up"),
                    matcher(MatcherType::Eq, "region", "eu"),
                ],
            ),
            (
                T,
                T + 1_000_000_000,
                vec![
                    matcher(MatcherType::Re, "__name__", "up|down"),
                    matcher(MatcherType::Neq, "job", "b"),
                ],
            ),
            (
                T,
                T,
                vec![
                    matcher(MatcherType::Eq, "region", "us"),
                    matcher(MatcherType::Eq, "__name__", "up"),
                ],
            ),
        ],
    );
    let a = h.read(&req).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/x-protobuf");
    assert_eq!(a.headers[header::CONTENT_ENCODING], "snappy");
    let raw = snap::raw::Decoder::new().decompress_vec(&a.body).unwrap();
    let resp = ReadResponse::decode(raw.as_slice()).unwrap();
    assert_eq!(resp.results.len(), 3);

    let q0 = &resp.results[0].timeseries;
    assert_eq!(q0.len(), 2);
    assert_eq!(
        label_map(&q0[0].labels),
        BTreeMap::from([
            ("__name__".into(), "up".into()),
            ("job".into(), "a".into()),
            ("region".into(), "eu".into()),
            ("replica".into(), "r1".into()),
        ])
    );
    // Sorted by name on the wire.
    assert!(q0[0].labels.windows(2).all(|w| w[0].name < w[1].name));
    assert_eq!(label_map(&q0[1].labels)["replica"], "own");
    let got: Vec<(i64, f64)> = q0[0]
        .samples
        .iter()
        .map(|s| (s.timestamp, s.value))
        .collect();
    assert_eq!(got, vec![(T, 0.0), (T + 10_000, 1.0), (T + 20_000, 2.0)]);

    let q1 = &resp.results[1].timeseries;
    let names: Vec<_> = q1
        .iter()
        .map(|s| label_map(&s.labels)["__name__"].clone())
        .collect();
    assert_eq!(names, ["down", "up"]);
    assert_eq!(q1[1].samples.len(), 300);

    // region="us" contradicts the external label: nothing matches.
    assert!(resp.results[2].timeseries.is_empty());
}

#[tokio::test]
async fn read_streamed_chunks() {
    let h = seeded().await;
    let req = read_req(
        &[ResponseType::StreamedXorChunks, ResponseType::Samples],
        vec![
            (
                T,
                T + 1_000_000_000,
                vec![matcher(MatcherType::Eq, "job", "a")],
            ),
            (
                T + 10_000,
                T + 30_000,
                vec![matcher(MatcherType::Eq, "job", "b")],
            ),
        ],
    );
    let a = h.read(&req).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.headers[header::CONTENT_TYPE], read::STREAMED_CONTENT_TYPE);
    let frames = read::parse_frames(&a.body).unwrap();
    let mut got: BTreeMap<(i64, String), Vec<(i64, f64)>> = BTreeMap::new();
    for f in &frames {
        for cs in &f.chunked_series {
            let ls = label_map(&cs.labels);
            assert_eq!(ls["region"], "eu");
            let key = (f.query_index, ls["__name__"].clone());
            for c in &cs.chunks {
                assert_eq!(c.r#type, 1, "XOR");
                let s = xor::decode(&c.data).unwrap();
                assert_eq!((c.min_time_ms, c.max_time_ms), (s[0].0, s[s.len() - 1].0));
                got.entry(key.clone()).or_default().extend(s);
            }
        }
    }
    let want_up: Vec<(i64, f64)> = (0..300).map(|i| (T + i * 10_000, i as f64)).collect();
    assert_eq!(got[&(0, "up".to_string())], want_up);
    assert_eq!(got[&(0, "down".to_string())], vec![(T, 0.0)]);
    assert_eq!(
        got[&(1, "up".to_string())],
        vec![(T + 10_000, 1.0), (T + 20_000, 2.0), (T + 30_000, 3.0)]
    );
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn bad_read_requests_are_400() {
    let h = seeded().await;
    let a = h
        .send(
            Request::post("/api/v1/read")
                .body(Body::from("not snappy at all"))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let bad_regex = read_req(&[], vec![(T, T, vec![matcher(MatcherType::Re, "a", "(")])]);
    let a = h.read(&bad_regex).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text().contains("invalid matcher"), "{}", a.text());
    let mut unknown = read_req(&[], vec![(T, T, vec![matcher(MatcherType::Eq, "a", "b")])]);
    unknown.accepted_response_types = vec![5];
    let a = h.read(&unknown).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text().contains("response types"), "{}", a.text());
}

/// The real binary, driven as Prometheus's sender drives it.
#[test]
fn end_to_end_with_the_binary() {
    let srv = common::Server::start(None, &["--web.enable-remote-write-receiver"]);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let req = WriteRequest {
        timeseries: (0..50)
            .map(|i| {
                series(
                    &[("__name__", "e2e_rw"), ("i", &i.to_string())],
                    &[(now - 1000, i as f64)],
                )
            })
            .collect(),
        metadata: vec![],
    };
    let r = post_write(&srv, &req);
    assert_eq!(r.status().as_u16(), 204);
    let res = srv.query("sum(e2e_rw)");
    assert_eq!(res[0]["value"][1], "1225");

    let rr = read_req(
        &[ResponseType::Samples],
        vec![(
            now - 60_000,
            now,
            vec![matcher(MatcherType::Eq, "__name__", "e2e_rw")],
        )],
    );
    let r = srv
        .client
        .post(srv.url("/api/v1/read"))
        .body(snappy(&rr.encode_to_vec()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&r.bytes().unwrap())
        .unwrap();
    assert_eq!(
        ReadResponse::decode(raw.as_slice()).unwrap().results[0]
            .timeseries
            .len(),
        50
    );

    // Without the flag the endpoint does not exist.
    let off = common::Server::start(None, &[]);
    let r = off
        .client
        .post(off.url("/api/v1/write"))
        .body(snappy(&req.encode_to_vec()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

/// A year-9999 sample in the WAL (written before the limit existed) is
/// skipped when the server replays it: the server starts, current samples
/// are accepted, and the skip is counted.
#[test]
fn far_future_sample_in_an_old_wal_does_not_stop_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    {
        // No future grace: what an older version wrote.
        let opts = Options {
            compaction_interval: None,
            ..Options::default()
        };
        let db = Db::open(&dir.path().join("data"), opts).unwrap();
        let mut app = db.appender();
        let l = Labels::from_pairs([("__name__", "old_wal")]);
        app.append(&l, now - 60_000, 1.0).unwrap();
        app.append(&l, YEAR_9999, 2.0).unwrap();
        app.commit().unwrap();
        db.close().unwrap();
    }
    let srv = common::Server::start_in(dir, None, &["--web.enable-remote-write-receiver"]);
    let req = request(vec![series(&[("__name__", "old_wal")], &[(now, 3.0)])]);
    let r = post_write(&srv, &req);
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().unwrap());
    assert_eq!(srv.query("old_wal")[0]["value"][1], "3");
    let metrics = srv
        .client
        .get(srv.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(
            "ferroprom_tsdb_rejected_samples_total{reason=\"wal_replay_too_far_in_future\"} 1"
        ),
        "{metrics}"
    );
}
