//! The one HTML page every UI path answers with: `ui/index.html` with the
//! prefix the browser sees filled in, so relative asset paths and links
//! resolve under it and `app.js` knows where the API is.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::assets;

/// Where `index.html` wants the `<base>` and the settings script.
const MARKER: &str = "<!--ferroprom:head-->";

/// Builds the shell for one prefix.
pub(super) struct Shell {
    head: String,
}

impl Shell {
    pub(super) fn new(prefix: &str, external_url: &str) -> Shell {
        let prefix = encode_path(prefix);
        let settings = serde_json::json!({ "prefix": prefix, "externalUrl": external_url });
        // `<` escaped so no value can close the script element.
        let settings = settings.to_string().replace('<', "\\u003c");
        Shell {
            head: format!(
                "<base href=\"{prefix}/\">\n<script>window.FERROPROM = {settings};</script>"
            ),
        }
    }

    /// `index.html` with the head filled in; never cached, so a new binary's
    /// assets are picked up at once.
    pub(super) async fn page(&self) -> Response {
        let Some(index) = assets::get("index.html") else {
            return crate::api::not_found().await;
        };
        let html = String::from_utf8_lossy(&index).replacen(MARKER, &self.head, 1);
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response()
    }
}

/// `prefix` as a URL path safe inside an HTML attribute: bytes outside
/// the path characters of RFC 3986 are percent-encoded (`%` is kept, as
/// the external URL's path comes encoded already).
fn encode_path(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for b in prefix.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-._~/!$()*+,;=:@%".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_escapes_the_prefix_and_settings() {
        let s = Shell::new("/a\"b", "http://h/</script>");
        assert!(s.head.starts_with("<base href=\"/a%22b/\">"), "{}", s.head);
        assert!(!s.head.contains("</script>\";"), "{}", s.head);
        assert!(s.head.contains("\\u003c/script>"), "{}", s.head);
    }

    #[test]
    fn index_has_the_marker() {
        let index = assets::get("index.html").expect("index.html embedded");
        assert!(String::from_utf8_lossy(&index).contains(MARKER));
    }
}
