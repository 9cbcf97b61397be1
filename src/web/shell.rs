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
        let settings = serde_json::json!({ "prefix": prefix, "externalUrl": external_url });
        // `<` escaped so no value can close the script element.
        let settings = settings.to_string().replace('<', "\\u003c");
        Shell {
            head: format!(
                "<base href=\"{}/\">\n<script>window.FERROPROM = {settings};</script>",
                escape_attr(prefix)
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

fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
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
        assert!(
            s.head.starts_with("<base href=\"/a&quot;b/\">"),
            "{}",
            s.head
        );
        assert!(!s.head.contains("</script>\";"), "{}", s.head);
        assert!(s.head.contains("\\u003c/script>"), "{}", s.head);
    }

    #[test]
    fn index_has_the_marker() {
        let index = assets::get("index.html").expect("index.html embedded");
        assert!(String::from_utf8_lossy(&index).contains(MARKER));
    }
}
