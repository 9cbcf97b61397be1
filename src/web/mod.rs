//! The web UI: the embedded assets of `src/web/ui/`, the page routes that
//! answer with the one HTML shell, and the route prefix everything (API
//! included) is mounted under.
//!
//! The UI is plain HTML, CSS and ES modules (no build step); `app.js`
//! routes by path to `pages/<name>.js`. See `docs/architecture.md`.

mod assets;
mod shell;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use shell::Shell;

/// The paths that show a page (each answered with the shell; `app.js`
/// picks the page module from the path).
const PAGES: &[&str] = &[
    "/query",
    "/graph",
    "/targets",
    "/service-discovery",
    "/alerts",
    "/rules",
    "/status",
    "/flags",
    "/config",
    "/tsdb-status",
    "/cardinality",
];

/// Where the server is mounted and how browsers reach it.
#[derive(Clone, Debug)]
pub struct Mount {
    /// `--web.route-prefix` as the server matches it: `""` or `/prefix`.
    pub route_prefix: String,
    /// The path browsers see the UI under (`""` or `/prefix`): the path of
    /// an explicit `--web.external-url`, else the route prefix. They
    /// differ behind a proxy that rewrites paths.
    pub path_prefix: String,
    /// `--web.external-url`, for links the UI shows.
    pub external_url: String,
}

impl Mount {
    /// From the flags: the prefix normalised to `""` or `/p` (no trailing
    /// slash).
    pub fn from_flags(flags: &crate::flags::Flags) -> Result<Mount, crate::flags::FlagError> {
        let external = flags.external_url()?;
        let route_prefix = trim_prefix(&flags.route_prefix()?);
        let path_prefix = match flags.external_url.as_deref() {
            Some(u) if !u.is_empty() => trim_prefix(external.path()),
            _ => route_prefix.clone(),
        };
        Ok(Mount {
            route_prefix,
            path_prefix,
            external_url: external.as_str().trim_end_matches('/').to_string(),
        })
    }
}

fn trim_prefix(p: &str) -> String {
    match p.trim_matches('/') {
        "" => String::new(),
        p => format!("/{p}"),
    }
}

/// `api` plus the UI's routes, all under the route prefix. Outside the
/// prefix only `/` answers (a redirect to it, as Prometheus); anything
/// else is a 404.
pub fn mount(api: Router, m: &Mount) -> Router {
    let shell = Arc::new(Shell::new(&m.path_prefix, &m.external_url));
    let home = format!("{}/query", m.path_prefix);
    let mut ui = Router::new()
        .route("/", get(move || redirect(home.clone())))
        .route("/assets/{*path}", get(assets::serve));
    for page in PAGES {
        let shell = Arc::clone(&shell);
        ui = ui.route(
            page,
            get(move || {
                let shell = Arc::clone(&shell);
                async move { shell.page().await }
            }),
        );
    }
    let inner = api.merge(ui);
    if m.route_prefix.is_empty() {
        return inner;
    }
    let prefix = format!("{}/", m.path_prefix);
    let home = format!("{}/query", m.path_prefix);
    Router::new()
        .nest(&m.route_prefix, inner)
        // `nest` leaves the prefix with a trailing slash unmatched.
        .route(
            &format!("{}/", m.route_prefix),
            get(move || redirect(home.clone())),
        )
        .route("/", get(move || redirect(prefix.clone())))
        .fallback(crate::api::not_found)
}

async fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}
