//! `/api/v1/admin/tsdb/*`: deleting series, cleaning tombstones and taking
//! snapshots. Only served with `--web.enable-admin-api`; otherwise every
//! call fails with Prometheus's `unavailable` error.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Serialize;
use storage::Matcher;

use super::json::success;
use super::params::{invalid_param, time_param, Params, MAX_TIME, MIN_TIME};
use super::response::{ApiError, ErrorType};
use super::{parse_go_bool, ApiState};

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(delete_series).put(delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(clean_tombstones).put(clean_tombstones),
        )
        .route("/api/v1/admin/tsdb/snapshot", post(snapshot).put(snapshot))
}

/// Where snapshots go, under the data directory.
const SNAPSHOTS_DIR: &str = "snapshots";

/// The error when the admin API is off (type `unavailable`, status 500).
fn disabled() -> Response {
    ApiError::new(ErrorType::Unavailable, "admin APIs disabled").into_response()
}

/// Runs blocking storage work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::internal)
}

/// Deletes the samples of every series matching any `match[]` selector in
/// `[start, end]` (default: all time). All selectors are checked before
/// anything is deleted. As in Prometheus a selector may consist of matchers
/// that all match the empty string (`{job=""}` selects every series without
/// a job); an empty one (`{}`) selects nothing.
async fn delete_series(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    if !state.admin_enabled {
        return disabled();
    }
    match delete(&state, &params).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn delete(state: &ApiState, params: &Params) -> Result<(), ApiError> {
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = time_param(params, "start", MIN_TIME)?;
    let end = time_param(params, "end", MAX_TIME)?;
    let sets: Vec<Vec<Matcher>> = selectors
        .iter()
        .map(|s| promql::parse_metric_selector(s).map_err(|e| invalid_param("match[]", e)))
        .collect::<Result<_, _>>()?;
    let db = Arc::clone(&state.db);
    blocking(move || {
        // To storage no matchers means every series.
        for m in sets.iter().filter(|m| !m.is_empty()) {
            db.delete(m, start, end).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .await
}

async fn clean_tombstones(State(state): State<Arc<ApiState>>) -> Response {
    if !state.admin_enabled {
        return disabled();
    }
    let db = Arc::clone(&state.db);
    match blocking(move || db.clean_tombstones().map_err(|e| e.to_string())).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Serialize)]
struct Snapshot {
    name: String,
}

/// Snapshots blocks (and, unless `skip_head`, the head) into
/// `<data>/snapshots/<UTC time>-<random hex>`; answers with that name.
async fn snapshot(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    if !state.admin_enabled {
        return disabled();
    }
    let skip_head = match params.get("skip_head") {
        None | Some("") => false,
        Some(s) => match parse_go_bool(s) {
            Ok(b) => b,
            Err(e) => {
                return invalid_param("skip_head", format!("unable to parse boolean: {e}"))
                    .into_response()
            }
        },
    };
    let name = snapshot_name(SystemTime::now(), random_u63());
    let dir = state.db.dir().join(SNAPSHOTS_DIR).join(&name);
    let db = Arc::clone(&state.db);
    let made = blocking(move || {
        std::fs::create_dir_all(&dir).map_err(|e| format!("create snapshot directory: {e}"))?;
        db.snapshot(&dir, !skip_head)
            .map_err(|e| format!("create snapshot: {e}"))
    })
    .await;
    match made.and_then(|()| success(&Snapshot { name })) {
        Ok(s) => s.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `20171210T211224Z-2be650b6d019eb54`: the UTC time, then 63 random bits
/// in hex, as Prometheus names snapshots.
fn snapshot_name(now: SystemTime, random: u64) -> String {
    let t: chrono::DateTime<chrono::Utc> = now.into();
    format!("{}-{random:016x}", t.format("%Y%m%dT%H%M%SZ"))
}

/// 63 random bits from the standard library's per-process random hash keys
/// (no RNG crate needed for a name that only has to be unique).
fn random_u63() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() >> 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn snapshot_names_like_prometheus() {
        let t = UNIX_EPOCH + Duration::from_secs(1_512_940_344);
        assert_eq!(
            snapshot_name(t, 0x2be6_50b6_d019_eb54),
            "20171210T211224Z-2be650b6d019eb54"
        );
        assert_eq!(snapshot_name(t, 1), "20171210T211224Z-0000000000000001");
        let (a, b) = (random_u63(), random_u63());
        assert_ne!(a, b);
        assert!(a < 1 << 63 && b < 1 << 63);
    }
}
