//! The Prometheus API envelope: `{"status":"success","data":…}` and
//! `{"status":"error","errorType":…,"error":…}`, with Prometheus's status
//! codes. The JSON inside is written by [`super::encode`].

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::encode::{push_string, Escaper};

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
            // Prometheus's status table has no entry for it: 500.
            ErrorType::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
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

/// Appends `"key":[…]` for a non-empty annotation list, keeping at most
/// [`MAX_ANNOTATIONS`] entries and noting how many were left out, as
/// Prometheus does (`3 more warning annotations omitted`).
fn push_annotations(out: &mut Vec<u8>, key: &str, kind: &str, list: &[String]) {
    if list.is_empty() {
        return;
    }
    out.extend_from_slice(format!(",\"{key}\":[").as_bytes());
    for (i, a) in list.iter().take(MAX_ANNOTATIONS).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, a, Escaper::Jsoniter);
    }
    if list.len() > MAX_ANNOTATIONS {
        let more = format!(
            "{} more {kind} annotations omitted",
            list.len() - MAX_ANNOTATIONS
        );
        out.push(b',');
        push_string(out, &more, Escaper::Jsoniter);
    }
    out.push(b']');
}

/// Most warnings (and, separately, infos) one response carries.
pub const MAX_ANNOTATIONS: usize = 10;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut out = Vec::with_capacity(self.msg.len() + 64);
        out.extend_from_slice(br#"{"status":"error","errorType":""#);
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.extend_from_slice(br#"","error":"#);
        push_string(&mut out, &self.msg, Escaper::Jsoniter);
        push_annotations(&mut out, "warnings", "warning", &self.warnings);
        push_annotations(&mut out, "infos", "info", &self.infos);
        out.push(b'}');
        json_response(self.kind.status(), Ok(out))
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
    /// `data` already serialised; serde values go through
    /// `api::json::success`, which adds Go's escaping.
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
        push_annotations(&mut out, "warnings", "warning", &self.warnings);
        push_annotations(&mut out, "infos", "info", &self.infos);
        out.push(b'}');
        json_response(StatusCode::OK, Ok(out))
    }
}

/// The answer to a method an endpoint does not take, as Go's router gives
/// it: `405` with a plain-text body (not the JSON envelope) and the allowed
/// methods in `Allow`. `OPTIONS` is answered `204`, as Prometheus answers
/// it on every API path (CORS preflight).
pub fn method_not_allowed(method: &Method, allow: &'static str) -> Response {
    if method == Method::OPTIONS {
        return (StatusCode::NO_CONTENT, [(header::ALLOW, allow)]).into_response();
    }
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::ALLOW, allow),
        ],
        "Method Not Allowed\n",
    )
        .into_response()
}

fn json_response(status: StatusCode, body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> (StatusCode, String) {
        let status = r.status();
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(b.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn envelopes() {
        let mut ok = Success::raw(b"[]".to_vec());
        assert_eq!(
            body(ok.into_response()).await,
            (StatusCode::OK, r#"{"status":"success","data":[]}"#.into())
        );
        ok = Success::raw(b"1".to_vec());
        ok.warnings = (0..12).map(|i| format!("w<{i}>")).collect();
        ok.infos = vec!["i".into()];
        let (_, text) = body(ok.into_response()).await;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let w = v["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 11);
        assert_eq!(w[10], "2 more warning annotations omitted");
        assert!(text.contains(r#""w\u003c0\u003e""#), "{text}");
        assert_eq!(v["infos"], serde_json::json!(["i"]));

        let e =
            ApiError::bad_data("invalid parameter \"query\": 1:3: parse error: unexpected <EOF>");
        assert_eq!(
            body(e.into_response()).await,
            (
                StatusCode::BAD_REQUEST,
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:3: parse error: unexpected \u003cEOF\u003e"}"#.into()
            )
        );
        let e = ApiError::new(ErrorType::Canceled, "x");
        assert_eq!(body(e.into_response()).await.0.as_u16(), 499);
    }
}
