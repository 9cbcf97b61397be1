//! `POST /api/v1/write` (remote-write 1.0 receiver, only with
//! `--web.enable-remote-write-receiver`) and `POST /api/v1/read`
//! (remote read). Answers follow Prometheus's handlers: plain-text errors,
//! 204 for an accepted write, 400 for anything a retry would not fix, 5xx
//! only when storage failed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::mpsc;

use super::response::method_not_allowed;
use super::ApiState;
use crate::remote::proto::ResponseType;
use crate::remote::read::server as read;
use crate::remote::receive::write;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route(
            "/api/v1/write",
            post(remote_write).fallback(|State(st): State<Arc<ApiState>>, m: Method| async move {
                if st.remote_write_enabled {
                    method_not_allowed(&m, "OPTIONS, POST")
                } else {
                    text(StatusCode::NOT_FOUND, "404 page not found".into())
                }
            }),
        )
        .route(
            "/api/v1/read",
            post(remote_read)
                .fallback(|m: Method| async move { method_not_allowed(&m, "OPTIONS, POST") }),
        )
        // Bodies past the limit get 413 before a handler runs.
        .layer(DefaultBodyLimit::max(write::MAX_BODY_BYTES))
}

/// An error as Go's `http.Error` writes it.
fn text(status: StatusCode, mut msg: String) -> Response {
    msg.push('\n');
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        msg,
    )
        .into_response()
}

/// Refuses encodings other than protocol 1.0's (snappy, protobuf
/// `WriteRequest`) with 415, as Prometheus 3 does; absent headers are
/// taken to mean 1.0, as older senders omit them.
fn header_problem(headers: &HeaderMap) -> Option<Response> {
    let get = |h: &header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(enc) = get(&header::CONTENT_ENCODING) {
        if !enc.trim().eq_ignore_ascii_case("snappy") {
            return Some(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported compression: {enc}. Only snappy is supported"),
            ));
        }
    }
    if let Some(ct) = get(&header::CONTENT_TYPE) {
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let proto = parts
            .find_map(|p| p.strip_prefix("proto="))
            .unwrap_or("prometheus.WriteRequest");
        if !media.eq_ignore_ascii_case("application/x-protobuf")
            || proto != "prometheus.WriteRequest"
        {
            return Some(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content type {ct:?}: only remote write 1.0 (application/x-protobuf;proto=prometheus.WriteRequest) is accepted"),
            ));
        }
    }
    None
}

async fn remote_write(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.remote_write_enabled {
        return text(StatusCode::NOT_FOUND, "404 page not found".into());
    }
    if let Some(r) = header_problem(&headers) {
        return r;
    }
    let scheme = state.config.read().global.metric_name_validation_scheme;
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        let mut buf = st.remote_bodies.take();
        let raw = write::decompress_into(&body, &mut buf)?;
        let generation = st.remote_refs.begin();
        let batch = write::decode(raw, scheme, &st.remote_refs, generation)?;
        st.remote_metadata.update(&batch.metadata);
        write::append(
            &st.db,
            &batch,
            scheme,
            &st.remote_write_limits,
            &st.remote_refs,
            generation,
        )
    })
    .await;
    match result {
        Ok(Ok(out)) if out.messages.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(out)) => {
            tracing::warn!(
                rejected = out.rejected,
                first = %out.messages[0],
                "remote write: samples rejected"
            );
            text(StatusCode::BAD_REQUEST, out.messages.join("\n"))
        }
        Ok(Err(e)) if e.is_retryable() => {
            tracing::error!(error = %e, "remote write: append failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Ok(Err(e)) => text(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("remote write task failed: {e}"),
        ),
    }
}

fn read_error(e: read::ReadError) -> Response {
    let status = if e.is_bad_request() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    text(status, e.to_string())
}

async fn remote_read(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let req = match read::decode(&body) {
        Ok(r) => r,
        Err(e) => return read_error(e),
    };
    let kind = match read::negotiate(&req) {
        Ok(k) => k,
        Err(e) => return read_error(e),
    };
    let external = state.config.read().global.external_labels.clone();
    let queries = match read::prepare(&req, &external) {
        Ok(q) => q,
        Err(e) => return read_error(e),
    };
    match kind {
        ResponseType::Samples => {
            let st = Arc::clone(&state);
            let res = tokio::task::spawn_blocking(move || {
                read::samples_response(&st.db, &queries, &external)
            })
            .await;
            match res {
                Ok(Ok(bytes)) => (
                    [
                        (header::CONTENT_TYPE, "application/x-protobuf"),
                        (header::CONTENT_ENCODING, "snappy"),
                    ],
                    bytes,
                )
                    .into_response(),
                Ok(Err(e)) => read_error(e),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("remote read task failed: {e}"),
                ),
            }
        }
        ResponseType::StreamedXorChunks => {
            // A few frames in flight bound memory however large the answer.
            let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
            let st = Arc::clone(&state);
            tokio::task::spawn_blocking(move || {
                let mut emit = |frame: Vec<u8>| tx.blocking_send(Ok(Bytes::from(frame))).is_ok();
                if let Err(e) = read::stream_chunks(&st.db, &queries, &external, &mut emit) {
                    // Headers are gone already: cut the stream so the client
                    // sees a failed read rather than a short answer.
                    tracing::error!(error = %e, "remote read: streaming failed");
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                }
            });
            (
                [(header::CONTENT_TYPE, read::STREAMED_CONTENT_TYPE)],
                Body::from_stream(Frames(rx)),
            )
                .into_response()
        }
    }
}

/// The frames produced on the blocking pool, as a body stream.
struct Frames(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Frames {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
