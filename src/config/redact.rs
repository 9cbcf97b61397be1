//! Hiding the password a URL may carry in its userinfo
//! (`http://user:pass@host/`) wherever a configured URL is shown: the
//! config API and log lines. Prometheus prints such a URL with the password
//! replaced by `xxxxx` (Go's `url.URL.Redacted`), keeping the user name so
//! an operator can still tell endpoints apart.

use std::borrow::Cow;

/// What replaces the password, as Prometheus prints it.
pub const PASSWORD_MASK: &str = "xxxxx";

/// `text` with the password of its userinfo replaced by [`PASSWORD_MASK`],
/// when `text` is a URL (`scheme://...`) with a password; otherwise `text`
/// unchanged (borrowed, so callers can tell whether anything was hidden).
/// An empty password (`user:@host`) is masked too, as Go does.
pub fn redact_url(text: &str) -> Cow<'_, str> {
    let Some(sep) = text.find("://") else {
        return Cow::Borrowed(text);
    };
    // Only a real scheme counts, so free text that merely contains "://"
    // further on is left alone.
    let scheme = &text[..sep];
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return Cow::Borrowed(text);
    }
    let start = sep + 3;
    let rest = &text[start..];
    // The userinfo is in the authority, which ends at the path, query or
    // fragment; the last '@' ends it (a password may contain '@' unescaped).
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(text);
    };
    let Some(colon) = authority[..at].find(':') else {
        return Cow::Borrowed(text);
    };
    Cow::Owned(format!(
        "{}{PASSWORD_MASK}{}",
        &text[..start + colon + 1],
        &text[start + at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_masked_and_the_rest_kept() {
        for (input, want) in [
            (
                "http://user:pass@host:9201/write?x=1",
                "http://user:xxxxx@host:9201/write?x=1",
            ),
            ("https://u:p@w@h/", "https://u:xxxxx@h/"),
            ("http://u:@h", "http://u:xxxxx@h"),
            (
                "socks5://u:s3cr%40t@proxy:1080",
                "socks5://u:xxxxx@proxy:1080",
            ),
        ] {
            assert_eq!(redact_url(input), want);
        }
    }

    /// Request errors are logged and returned as they are: this holds
    /// only because reqwest moves the userinfo into an `Authorization`
    /// header before sending, so the URL in its errors has none.
    #[tokio::test]
    async fn request_errors_never_show_the_password() {
        // Port 1 on loopback refuses the connection.
        let e = reqwest::Client::new()
            .post("http://user:hunter2@127.0.0.1:1/w")
            .send()
            .await
            .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
    }

    #[test]
    fn text_without_a_password_is_borrowed_unchanged() {
        for input in [
            "http://host/p",
            "http://user@host/p",
            "http://host/p?q=a:b@c",
            "http://host/a:b@c",
            "not a url: x://a:b@c",
            "",
            "a:b@c",
        ] {
            assert!(
                matches!(redact_url(input), Cow::Borrowed(s) if s == input),
                "{input}"
            );
        }
    }
}
