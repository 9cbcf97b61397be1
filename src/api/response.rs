//! The Prometheus API envelope: `{"status":"success","data":…}` and
//! `{"status":"error","errorType":…,"error":…}`, with Prometheus's status
//! codes, and the number formats Prometheus writes.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Prometheus's error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Canceled,
    Timeout,
    Internal,
    NotFound,
    Unavailable,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Canceled => "canceled",
            ErrorType::Timeout => "timeout",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Canceled => StatusCode::from_u16(499).expect("valid code"),
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An API error: type, message and (for failed queries) annotations.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorType,
    pub msg: String,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl ApiError {
    pub fn new(kind: ErrorType, msg: impl Into<String>) -> Self {
        ApiError {
            kind,
            msg: msg.into(),
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    pub fn bad_data(msg: impl Into<String>) -> Self {
        Self::new(ErrorType::BadData, msg)
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, msg)
    }

    /// Maps a PromQL error to Prometheus's type: parse errors are
    /// `bad_data`, timeouts `timeout`, cancellation `canceled`, storage
    /// failures `internal`, everything else `execution`.
    pub fn from_promql(e: promql::Error) -> Self {
        let kind = match &e {
            promql::Error::Parse(_) => ErrorType::BadData,
            promql::Error::Timeout(_) => ErrorType::Timeout,
            promql::Error::Canceled(_) => ErrorType::Canceled,
            promql::Error::Storage(_) => ErrorType::Internal,
            promql::Error::TooManySamples(_) | promql::Error::Eval(_) => ErrorType::Execution,
        };
        Self::new(kind, e.to_string())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: &'static str,
    #[serde(rename = "errorType")]
    error_type: &'static str,
    error: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    infos: &'a [String],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            status: "error",
            error_type: self.kind.as_str(),
            error: &self.msg,
            warnings: &self.warnings,
            infos: &self.infos,
        };
        json_response(self.kind.status(), serde_json::to_vec(&body))
    }
}

/// A successful response whose `data` is already-serialised JSON, with
/// optional annotations.
pub struct Success {
    /// Raw JSON of the `data` field.
    pub data: Vec<u8>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Success {
    /// `data` serialised with serde.
    pub fn of<T: Serialize>(data: &T) -> Result<Success, ApiError> {
        Ok(Success::raw(
            serde_json::to_vec(data).map_err(|e| ApiError::internal(e.to_string()))?,
        ))
    }

    pub fn raw(data: Vec<u8>) -> Success {
        Success {
            data,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }
}

impl IntoResponse for Success {
    fn into_response(self) -> Response {
        let mut out = Vec::with_capacity(self.data.len() + 64);
        out.extend_from_slice(br#"{"status":"success","data":"#);
        out.extend_from_slice(&self.data);
        for (key, list) in [("warnings", &self.warnings), ("infos", &self.infos)] {
            if !list.is_empty() {
                out.extend_from_slice(format!(",\"{key}\":").as_bytes());
                out.extend_from_slice(&serde_json::to_vec(list).unwrap_or_default());
            }
        }
        out.push(b'}');
        json_response(StatusCode::OK, Ok(out))
    }
}

fn json_response(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Appends a sample value the way Prometheus's JSON encoder does: a JSON
/// string, Go's shortest `'f'` form, `'e'` form (two-digit exponent) below
/// 1e-6 and from 1e21, and `NaN`, `+Inf`, `-Inf`.
pub fn push_value(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    out.push(b'"');
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let abs = v.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Rust prints `1e-7`; Go prints `1e-07` and `1e+21`.
            let s = format!("{v:e}");
            let (mant, exp) = s.split_once('e').expect("exponent form");
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            let _ = write!(out, "{mant}e{sign}");
            if digits.len() < 2 {
                out.push(b'0');
            }
            out.extend_from_slice(digits.as_bytes());
        } else {
            let _ = write!(out, "{v}");
        }
    }
    out.push(b'"');
}

/// Appends a millisecond timestamp as Prometheus does: a JSON number of
/// seconds, with exactly three decimals when not whole (`1.500`).
pub fn push_timestamp(out: &mut Vec<u8>, t_ms: i64) {
    use std::io::Write;
    let secs = t_ms.div_euclid(1000);
    let frac = t_ms.rem_euclid(1000);
    if frac == 0 {
        let _ = write!(out, "{secs}");
    } else if t_ms < 0 && secs < 0 {
        // Go prints -1.500 for -1500 ms: sign, then |t| split.
        let a = t_ms.unsigned_abs();
        let _ = write!(out, "-{}.{:03}", a / 1000, a % 1000);
    } else {
        let _ = write!(out, "{secs}.{frac:03}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f64) -> String {
        let mut o = Vec::new();
        push_value(&mut o, x);
        String::from_utf8(o).unwrap()
    }

    fn ts(t: i64) -> String {
        let mut o = Vec::new();
        push_timestamp(&mut o, t);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn values_are_spelled_like_prometheus() {
        assert_eq!(v(2.0), "\"2\"");
        assert_eq!(v(0.1), "\"0.1\"");
        assert_eq!(v(-0.0), "\"-0\"");
        assert_eq!(v(1e-7), "\"1e-07\"");
        assert_eq!(v(1.5e21), "\"1.5e+21\"");
        assert_eq!(v(1e20), "\"100000000000000000000\"");
        assert_eq!(v(1.234e-300), "\"1.234e-300\"");
        assert_eq!(v(f64::NAN), "\"NaN\"");
        assert_eq!(v(f64::INFINITY), "\"+Inf\"");
        assert_eq!(v(f64::NEG_INFINITY), "\"-Inf\"");
    }

    #[test]
    fn timestamps_keep_three_decimals() {
        assert_eq!(ts(1_795_635_765_500), "1795635765.500");
        assert_eq!(ts(1_795_635_765_000), "1795635765");
        assert_eq!(ts(4_000), "4");
        assert_eq!(ts(1), "0.001");
        assert_eq!(ts(-1_500), "-1.500");
    }
}
