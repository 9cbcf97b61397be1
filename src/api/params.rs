//! Request parameters as Prometheus reads them: URL query string and, for
//! POST, the form body, merged (Go's `r.Form`); times as RFC 3339 or unix
//! seconds; durations as `15s` or float seconds; `match[]` selectors.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};

use super::response::ApiError;

/// Largest form body accepted on POST (Prometheus's Go default is 10 MiB).
pub const MAX_FORM_BYTES: usize = 10 << 20;

/// All parameters of a request, in order; keys may repeat.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses an `application/x-www-form-urlencoded` string. Bytes that
    /// are not UTF-8 after percent-decoding become U+FFFD, which the PromQL
    /// lexer refuses in strings (`invalid UTF-8 rune`, as Go's, which sees
    /// the same rune for both), so `query` and `match[]` fail with 400.
    pub fn parse(q: &str) -> Params {
        Params(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// First value of `key`; as in Go, body values come before URL values.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (e.g. `match[]`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let query = req.uri().query().unwrap_or("").to_string();
        let is_form = req.method() == Method::POST
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| {
                    ct.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("application/x-www-form-urlencoded")
                });
        let mut params = Params::default();
        if is_form {
            let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
                .await
                .map_err(|e| ApiError::bad_data(format!("error parsing form values: {e}")))?;
            params = Params::parse(std::str::from_utf8(&body).map_err(|_| {
                ApiError::bad_data("error parsing form values: invalid UTF-8 in body")
            })?);
        } else {
            // Drain nothing: GET bodies are ignored, as in Go.
            let _ = Bytes::from_request(req, state).await;
        }
        params.0.extend(Params::parse(&query).0);
        Ok(params)
    }
}

/// Earliest time a query may name when `start` is absent (ms).
pub const MIN_TIME: i64 = i64::MIN / 4;
/// Latest time a query may name when `end` is absent (ms).
pub const MAX_TIME: i64 = i64::MAX / 4;

/// Parses a time parameter: unix seconds with optional fraction, or RFC 3339.
/// Returns milliseconds. Errors read like Prometheus's
/// (`cannot parse "x" to a valid timestamp`).
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        {
            let ms = (f * 1000.0).round();
            if ms.abs() < 9.2e18 {
                return Ok(ms as i64);
            }
        }
    }
    // Prometheus's own clients spell "no bound" as its minTime/maxTime,
    // which are outside chrono's range.
    match s {
        "-292273086-05-16T16:47:06Z" => return Ok(MIN_TIME),
        "292277025-08-18T07:12:54.999999999Z" => return Ok(MAX_TIME),
        _ => {}
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            format!(
                "cannot parse {} to a valid timestamp",
                go_quote(s.as_bytes())
            )
        })
}

/// Parses a duration parameter: float seconds or a Prometheus duration.
/// Returns milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        {
            let ms = (f * 1000.0).round();
            if ms.abs() >= 9.2e18 {
                return Err(format!(
                    "cannot parse {} to a valid duration. It overflows int64",
                    go_quote(s.as_bytes())
                ));
            }
            return Ok(ms as i64);
        }
    }
    storage::compact::parse_duration_ms(s).map_err(|_| {
        format!(
            "cannot parse {} to a valid duration",
            go_quote(s.as_bytes())
        )
    })
}

/// Parses each `match[]` value into matchers, as Prometheus's
/// `parseMatchersParam`: every selector must have at least one matcher that
/// does not match the empty string. Errors are `bad_data` with the bare
/// message, as `/labels` and `/label/…/values` report them; `/series`
/// prefixes them with [`invalid_param`].
pub fn parse_matchers(values: &[&str]) -> Result<Vec<Vec<storage::Matcher>>, ApiError> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let matchers =
            promql::parse_metric_selector(v).map_err(|e| ApiError::bad_data(e.to_string()))?;
        if matchers.iter().all(|m| m.matches_empty()) {
            return Err(ApiError::bad_data(
                "match[] must contain at least one non-empty matcher",
            ));
        }
        out.push(matchers);
    }
    Ok(out)
}

/// Prometheus's `invalid parameter "<name>": <reason>` (`bad_data`).
pub fn invalid_param(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_data(format!("invalid parameter {name:?}: {reason}"))
}

/// An optional time parameter (`start`, `end`, `time`), as Prometheus's
/// `parseTimeParam`: `default` when absent or empty.
pub fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => parse_time(v)
            .map_err(|e| invalid_param(name, format!("invalid time value for '{name}': {e}"))),
    }
}

/// The `limit` parameter: `0` (no limit) when absent, as Prometheus's
/// `parseLimitParam`; errors spelled like Go's `strconv.Atoi`.
pub fn limit_param(params: &Params) -> Result<usize, ApiError> {
    let Some(s) = params.get("limit").filter(|v| !v.is_empty()) else {
        return Ok(0);
    };
    match s.parse::<i64>() {
        Ok(n) if n < 0 => Err(invalid_param("limit", "limit must be non-negative")),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Err(e) => {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            Err(invalid_param(
                "limit",
                format!("strconv.Atoi: parsing {}: {why}", go_quote(s.as_bytes())),
            ))
        }
    }
}

/// Quotes bytes as Go's `%q` / `strconv.Quote` does: printable characters
/// as they are, `\n`-style and `\xNN` / `\uNNNN` escapes otherwise.
pub fn go_quote(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                // Go's unicode.IsPrint: no controls, and no spaces but ' '.
                c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                    if (c as u32) < 0x10000 {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    } else {
                        let _ = write!(out, "\\U{:08x}", c as u32);
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("4"), Ok(4000));
        assert_eq!(parse_time("1795635893.785"), Ok(1_795_635_893_785));
        assert_eq!(parse_time("1795634093785"), Ok(1_795_634_093_785_000));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51+02:00"),
            Ok(1_435_781_451_000)
        );
        assert!(parse_time("abc").is_err());
        assert!(parse_time("").is_err());
        assert!(parse_time("NaN").is_err());
        assert!(parse_time("Inf").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("1m0s"), Ok(60_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("1e30").is_err());
    }

    #[test]
    fn quoting_follows_go() {
        assert_eq!(go_quote(b"abc"), r#""abc""#);
        assert_eq!(go_quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote(b"\n\t\x01\x7f"), r#""\n\t\x01\x7f""#);
        assert_eq!(go_quote("é日\u{a0}".as_bytes()), r#""é日\u00a0""#);
        assert_eq!(go_quote(b"a\xffb"), r#""a\xffb""#);
    }

    #[test]
    fn limits() {
        let p = |q: &str| limit_param(&Params::parse(q));
        assert_eq!(p("").unwrap(), 0);
        assert_eq!(p("limit=").unwrap(), 0);
        assert_eq!(p("limit=0").unwrap(), 0);
        assert_eq!(p("limit=40000").unwrap(), 40000);
        assert_eq!(
            p("limit=-1").unwrap_err().msg,
            r#"invalid parameter "limit": limit must be non-negative"#
        );
        assert_eq!(
            p("limit=x").unwrap_err().msg,
            r#"invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax"#
        );
        assert_eq!(
            p("limit=99999999999999999999").unwrap_err().msg,
            r#"invalid parameter "limit": strconv.Atoi: parsing "99999999999999999999": value out of range"#
        );
    }

    #[test]
    fn optional_times() {
        let p = Params::parse("start=10&end=&bad=x");
        assert_eq!(time_param(&p, "start", 0).unwrap(), 10_000);
        assert_eq!(time_param(&p, "end", MAX_TIME).unwrap(), MAX_TIME);
        assert_eq!(time_param(&p, "time", 7).unwrap(), 7);
        let e = time_param(&p, "bad", 0).unwrap_err();
        assert_eq!(e.kind, super::super::response::ErrorType::BadData);
        assert_eq!(
            e.msg,
            r#"invalid parameter "bad": invalid time value for 'bad': cannot parse "x" to a valid timestamp"#
        );
    }

    #[test]
    fn matcher_sets() {
        let sets = parse_matchers(&["up", r#"{__name__=~".*word.*"}"#, "up{}"]).unwrap();
        assert_eq!(sets.len(), 3);
        assert_eq!(sets[1][0].name, "__name__");
        for bad in ["{}", r#"{job=""}"#, r#"{job=~".*"}"#] {
            assert_eq!(
                parse_matchers(&[bad]).unwrap_err().msg,
                "match[] must contain at least one non-empty matcher",
                "{bad}"
            );
        }
        for bad in [
            "up + 1",
            "rate(x[5m])",
            "up[5m]",
            "up offset 5m",
            "",
            "{a=}",
        ] {
            let e = parse_matchers(&[bad]).unwrap_err();
            assert!(e.msg.contains("parse error"), "{bad}: {}", e.msg);
        }
    }

    #[test]
    fn form_and_query_merge_body_first() {
        let mut p = Params::parse("query=up&time=4");
        p.0.extend(Params::parse("time=5&match[]=a&match[]=b").0);
        assert_eq!(p.get("time"), Some("4"));
        assert_eq!(p.all("match[]"), vec!["a", "b"]);
    }
}
