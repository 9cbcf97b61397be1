//! The files of `src/web/ui/`, embedded in release builds (debug builds
//! read them from disk, so edits show on reload), served with their
//! content type and an ETag.

use std::borrow::Cow;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "src/web/ui/"]
struct Ui;

/// The bytes of one asset, `path` relative to `src/web/ui/`.
pub(super) fn get(path: &str) -> Option<Cow<'static, [u8]>> {
    Ui::get(path).map(|f| f.data)
}

/// `GET /assets/{path}`: the file, or 304 when the client's copy is current.
/// Revalidated on every use (`no-cache`): asset URLs carry no version, so
/// a cached copy must not outlive an upgrade.
pub(super) async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = Ui::get(&path) else {
        return crate::api::not_found().await;
    };
    let etag = etag(&file.metadata.sha256_hash());
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache".to_string()),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [
            (header::CONTENT_TYPE, content_type(&path)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        file.data,
    )
        .into_response()
}

/// A strong ETag from the first 128 bits of the content's SHA-256.
fn etag(hash: &[u8; 32]) -> String {
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The content type by extension; only the kinds the UI ships.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("pages/query.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }

    #[test]
    fn etag_is_quoted_hex() {
        let e = etag(&[0xab; 32]);
        assert_eq!(e.len(), 34);
        assert!(e.starts_with("\"abab") && e.ends_with('"'));
    }
}
