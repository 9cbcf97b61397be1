//! One list+watch loop: keeps the discoverer's view of one collection (one
//! kind, in one namespace or all, through the configured selectors) equal
//! to the API server's, as client-go's reflector does.
//!
//! - List, in pages of [`Timing::page_size`] (`limit`/`continue`), then
//!   watch from the list's `resourceVersion` with bookmarks on, each watch
//!   asking the server to end it after 5–10 minutes (`timeoutSeconds`).
//! - Every event moves the resource version on; a watch that ends (the
//!   server's timeout, a dropped connection, an error) is resumed from the
//!   last version seen, so nothing is missed or repeated.
//! - `410 Gone`, as the watch's HTTP status or as an ERROR event, means
//!   that version is too old: list again at once. A relist is diffed
//!   against what was known (the resource version of every object), so
//!   objects deleted meanwhile are reported deleted and unchanged ones are
//!   not reported at all.
//! - Failed requests are counted and retried after a doubling delay
//!   (capped); until then the discoverer keeps what it has, so targets
//!   stay while the API server is unreachable.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::mpsc;

use super::client::ApiClient;
use super::error::KubeError;
use super::kind::{key, Kind, Object};
use super::metrics::count_failure;
use crate::remote::send::backoff::Backoff;

/// A watch line longer than this is refused (a broken or hostile server
/// could otherwise make the buffer grow without end).
const MAX_EVENT_BYTES: usize = 64 << 20;

/// The collection one reflector follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Watched {
    pub kind: Kind,
    /// `None`: every namespace (or a cluster-wide kind).
    pub namespace: Option<String>,
    pub label_selector: String,
    pub field_selector: String,
}

/// What a reflector reports.
#[derive(Debug)]
pub(crate) enum Event {
    Added(String, Object),
    Updated(String, Object),
    Deleted(Kind, String),
    /// Reflector `id` has finished a (re)list: the discoverer's view of its
    /// collection is complete.
    Synced(usize),
}

/// Paging and retry settings; [`Timing::default`] is client-go's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub page_size: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The shortest watch asked for; each asks for a random length up to
    /// twice this, so that many watches do not reconnect together.
    pub watch_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            page_size: 500,
            min_backoff: Duration::from_millis(800),
            max_backoff: Duration::from_secs(30),
            watch_timeout: Duration::from_secs(300),
        }
    }
}

/// Why a list or watch stopped.
enum Stop {
    /// The discoverer is gone: stop for good.
    Closed,
    Failed(KubeError),
}

impl From<KubeError> for Stop {
    fn from(e: KubeError) -> Self {
        Stop::Failed(e)
    }
}

impl From<reqwest::Error> for Stop {
    fn from(e: reqwest::Error) -> Self {
        Stop::Failed(KubeError::Request(e))
    }
}

/// `metadata` of every object, list and event, as far as the reflector
/// reads it.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: String,
    namespace: String,
    resource_version: String,
    #[serde(rename = "continue")]
    continue_token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WithMeta {
    metadata: Meta,
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    items: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: serde_json::Value,
}

/// The API's `Status`, as an ERROR event carries it.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Status {
    code: u16,
    message: String,
}

/// Follows one collection, reporting to `tx` as reflector `id`.
pub(crate) struct Reflector {
    id: usize,
    client: Arc<ApiClient>,
    watched: Watched,
    timing: Timing,
    tx: mpsc::Sender<Event>,
    /// Every known object's key and resource version.
    known: HashMap<String, String>,
    /// Where the next watch starts; `None`: list first.
    version: Option<String>,
}

impl Reflector {
    pub(crate) fn new(
        id: usize,
        client: Arc<ApiClient>,
        watched: Watched,
        timing: Timing,
        tx: mpsc::Sender<Event>,
    ) -> Reflector {
        Reflector {
            id,
            client,
            watched,
            timing,
            tx,
            known: HashMap::new(),
            version: None,
        }
    }

    /// Lists and watches until the receiving side is dropped.
    pub(crate) async fn run(mut self) {
        let mut backoff = Backoff::new(self.timing.min_backoff, self.timing.max_backoff);
        loop {
            let started = Instant::now();
            let outcome = match self.version.clone() {
                None => self.list().await.map(|()| true),
                Some(v) => self.watch(&v).await,
            };
            let wait = match outcome {
                Ok(true) => {
                    backoff = Backoff::new(self.timing.min_backoff, self.timing.max_backoff);
                    None
                }
                // A watch that ends at once with nothing in it, again and
                // again, must not become a busy loop.
                Ok(false) if started.elapsed() < Duration::from_secs(1) => {
                    Some(backoff.next_delay(None))
                }
                Ok(false) => None,
                Err(Stop::Closed) => return,
                Err(Stop::Failed(KubeError::Gone)) if self.version.is_some() => {
                    tracing::info!(path = %self.path(), "kubernetes_sd: resource version expired; listing again");
                    self.version = None;
                    None
                }
                Err(Stop::Failed(e)) => {
                    count_failure();
                    tracing::warn!(path = %self.path(), error = %e, "kubernetes_sd: list/watch failed; keeping the known objects and retrying");
                    Some(backoff.next_delay(None))
                }
            };
            if let Some(d) = wait {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = self.tx.closed() => return,
                }
            }
        }
    }

    fn path(&self) -> String {
        self.watched
            .kind
            .collection_path(self.watched.namespace.as_deref())
    }

    fn selectors(&self) -> [(&'static str, &str); 2] {
        [
            ("labelSelector", self.watched.label_selector.as_str()),
            ("fieldSelector", self.watched.field_selector.as_str()),
        ]
    }

    async fn send(&self, event: Event) -> Result<(), Stop> {
        self.tx.send(event).await.map_err(|_| Stop::Closed)
    }

    /// Lists every page, then reports what changed against `known`.
    async fn list(&mut self) -> Result<(), Stop> {
        let path = self.path();
        let limit = self.timing.page_size.to_string();
        let mut token = String::new();
        let mut version = None;
        let mut items = Vec::new();
        loop {
            let mut query = vec![("limit", limit.as_str()), ("continue", token.as_str())];
            query.extend(self.selectors());
            let body = self.client.list(&path, &query).await?;
            let page: List = serde_json::from_slice(&body)
                .map_err(|e| KubeError::Decode(format!("list {path}: {e}")))?;
            version.get_or_insert(page.metadata.resource_version);
            items.extend(page.items.unwrap_or_default());
            if page.metadata.continue_token.is_empty() {
                break;
            }
            token = page.metadata.continue_token;
        }

        let mut listed = HashMap::with_capacity(items.len());
        for item in items {
            let meta = WithMeta::deserialize(&item).unwrap_or_default().metadata;
            let k = key(&meta.namespace, &meta.name);
            let unchanged = self.known.get(&k) == Some(&meta.resource_version)
                && !meta.resource_version.is_empty();
            listed.insert(k.clone(), meta.resource_version);
            if !unchanged {
                self.apply(k, item).await?;
            }
        }
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|k| !listed.contains_key(*k))
            .cloned()
            .collect();
        self.known = listed;
        for k in gone {
            self.send(Event::Deleted(self.watched.kind, k)).await?;
        }
        self.version = version.filter(|v| !v.is_empty());
        if self.version.is_none() {
            return Err(KubeError::Decode(format!("list {path}: no resourceVersion")).into());
        }
        self.send(Event::Synced(self.id)).await
    }

    /// Reports an added or changed object; one that does not decode is
    /// logged and left out.
    async fn apply(&mut self, k: String, json: serde_json::Value) -> Result<(), Stop> {
        let existed = self.known.contains_key(&k);
        match self.watched.kind.decode(json) {
            Ok(o) if existed => self.send(Event::Updated(k, o)).await,
            Ok(o) => self.send(Event::Added(k, o)).await,
            Err(e) => {
                tracing::warn!(path = %self.path(), object = %k, error = %e, "kubernetes_sd: undecodable object ignored");
                Ok(())
            }
        }
    }

    /// Watches from `version` until the server ends the watch; `true` if
    /// it delivered at least one event.
    async fn watch(&mut self, version: &str) -> Result<bool, Stop> {
        let path = self.path();
        let span = self.timing.watch_timeout.as_secs().max(1);
        let secs = (span + RandomState::new().hash_one(self.id) % span).to_string();
        let mut query = vec![
            ("watch", "1"),
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", secs.as_str()),
        ];
        query.extend(self.selectors());
        let timeout = Duration::from_secs(span * 2);
        let mut resp = self.client.watch(&path, &query, timeout).await?;
        let mut buf: Vec<u8> = Vec::new();
        let mut any = false;
        while let Some(chunk) = resp.chunk().await? {
            buf.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(n) = buf[start..].iter().position(|b| *b == b'\n') {
                let line = &buf[start..start + n];
                start += n + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let event: WatchEvent = serde_json::from_slice(line)
                    .map_err(|e| KubeError::Decode(format!("watch {path}: {e}")))?;
                self.handle(event).await?;
                any = true;
            }
            buf.drain(..start);
            if buf.len() > MAX_EVENT_BYTES {
                return Err(KubeError::Decode(format!(
                    "watch {path}: event longer than {MAX_EVENT_BYTES} bytes"
                ))
                .into());
            }
        }
        Ok(any)
    }

    async fn handle(&mut self, event: WatchEvent) -> Result<(), Stop> {
        let meta = WithMeta::deserialize(&event.object)
            .unwrap_or_default()
            .metadata;
        let k = key(&meta.namespace, &meta.name);
        match event.kind.as_str() {
            "ADDED" | "MODIFIED" => {
                let v = meta.resource_version.clone();
                self.apply(k.clone(), event.object).await?;
                self.known.insert(k, v);
            }
            "DELETED" => {
                if self.known.remove(&k).is_some() {
                    self.send(Event::Deleted(self.watched.kind, k)).await?;
                }
            }
            "BOOKMARK" => {}
            "ERROR" => {
                let status = Status::deserialize(&event.object).unwrap_or_default();
                if status.code == 410 {
                    return Err(KubeError::Gone.into());
                }
                return Err(
                    KubeError::WatchError(format!("{} {}", status.code, status.message)).into(),
                );
            }
            other => {
                return Err(KubeError::Decode(format!("unknown watch event type {other:?}")).into())
            }
        }
        if !meta.resource_version.is_empty() {
            self.version = Some(meta.resource_version);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};

    use axum::extract::Query;
    use parking_lot::Mutex;
    use serde_json::json;

    use super::*;
    use crate::config::KubernetesSdConfig;
    use crate::discovery::kubernetes::client::Access;

    /// What the scripted server answers, in order: list pages and watch
    /// bodies for `/api/v1/nodes`; every query is recorded.
    #[derive(Default)]
    struct Script {
        answers: VecDeque<(u16, String)>,
        seen: Vec<BTreeMap<String, String>>,
        /// When each request came.
        at: Vec<Instant>,
    }

    async fn serve(script: Arc<Mutex<Script>>) -> Arc<ApiClient> {
        let app = axum::Router::new().route(
            "/api/v1/nodes",
            axum::routing::get(move |Query(q): Query<BTreeMap<String, String>>| {
                let script = script.clone();
                async move {
                    let mut s = script.lock();
                    s.seen.push(q);
                    s.at.push(Instant::now());
                    let (code, body) = s.answers.pop_front().unwrap_or((500, String::new()));
                    (axum::http::StatusCode::from_u16(code).unwrap(), body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let cfg: KubernetesSdConfig =
            serde_yaml_ng::from_str(&format!("role: node\napi_server: http://{addr}")).unwrap();
        Arc::new(ApiClient::new(Access::from_config(&cfg).unwrap()).unwrap())
    }

    fn node(name: &str, rv: &str) -> serde_json::Value {
        json!({"metadata": {"name": name, "resourceVersion": rv}})
    }

    fn page(rv: &str, cont: &str, items: &[serde_json::Value]) -> (u16, String) {
        let body = json!({"metadata": {"resourceVersion": rv, "continue": cont}, "items": items});
        (200, body.to_string())
    }

    fn events(lines: &[serde_json::Value]) -> (u16, String) {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        (200, body)
    }

    /// Every node, without selectors.
    fn all_nodes() -> Watched {
        Watched {
            kind: Kind::Node,
            namespace: None,
            label_selector: String::new(),
            field_selector: String::new(),
        }
    }

    /// The next event, within 10 s.
    async fn next(rx: &mut mpsc::Receiver<Event>) -> Event {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event in time")
            .expect("reflector running")
    }

    /// The events up to and including the `n`th `Synced`, as short text.
    async fn until_synced(rx: &mut mpsc::Receiver<Event>, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut synced = 0;
        while synced < n {
            out.push(match next(rx).await {
                Event::Added(k, _) => format!("add {k}"),
                Event::Updated(k, _) => format!("update {k}"),
                Event::Deleted(_, k) => format!("delete {k}"),
                Event::Synced(_) => {
                    synced += 1;
                    "synced".to_string()
                }
            });
        }
        out
    }

    #[tokio::test]
    async fn pages_watches_relists_and_diffs() {
        let script = Arc::new(Mutex::new(Script::default()));
        script.lock().answers.extend([
            // First list, in two pages.
            page("10", "tok", &[node("a", "1"), node("b", "2")]),
            page("10", "", &[node("c", "3")]),
            // A watch: c changes, a goes, a bookmark, then 410 as an event.
            events(&[
                json!({"type": "MODIFIED", "object": node("c", "11")}),
                json!({"type": "DELETED", "object": node("a", "12")}),
                json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}}),
                json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}),
            ]),
            // Relist: b unchanged, c changed again, d new, a still gone.
            page("20", "", &[node("b", "2"), node("c", "19"), node("d", "18")]),
            // The watch ends at once, empty; its resumption gets HTTP 410.
            events(&[]),
            (410, String::new()),
            // Third list: b is gone.
            page("30", "", &[node("c", "19"), node("d", "18")]),
        ]);
        let client = serve(script.clone()).await;
        let (tx, mut rx) = mpsc::channel(64);
        let watched = Watched {
            kind: Kind::Node,
            namespace: None,
            label_selector: "zone=a".into(),
            field_selector: String::new(),
        };
        let timing = Timing {
            page_size: 2,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            watch_timeout: Duration::from_secs(1),
        };
        let task = tokio::spawn(Reflector::new(0, client, watched, timing, tx).run());
        assert_eq!(
            until_synced(&mut rx, 1).await,
            ["add a", "add b", "add c", "synced"]
        );
        assert_eq!(
            until_synced(&mut rx, 1).await,
            ["update c", "delete a", "update c", "add d", "synced"]
        );
        assert_eq!(until_synced(&mut rx, 1).await, ["delete b", "synced"]);
        task.abort();

        let seen = script.lock().seen.clone();
        let get = |i: usize, k: &str| seen[i].get(k).cloned().unwrap_or_default();
        assert_eq!(
            (get(0, "limit"), get(0, "continue")),
            ("2".into(), "".into())
        );
        assert_eq!(get(0, "labelSelector"), "zone=a");
        assert_eq!(get(1, "continue"), "tok");
        assert_eq!(get(2, "watch"), "1");
        assert_eq!(
            get(2, "resourceVersion"),
            "10",
            "watch from the list's version"
        );
        assert_eq!(get(2, "allowWatchBookmarks"), "true");
        assert_eq!(get(2, "labelSelector"), "zone=a");
        let secs: u64 = get(2, "timeoutSeconds").parse().unwrap();
        assert!((1..=2).contains(&secs), "{secs}");
        assert_eq!(get(3, "watch"), "", "a relist after the 410 event");
        assert_eq!(get(4, "resourceVersion"), "20");
        assert_eq!(
            get(5, "resourceVersion"),
            "20",
            "resumed from the last version"
        );
        assert_eq!(get(6, "watch"), "", "a relist after HTTP 410");
    }

    /// A bookmark reports nothing but moves the resume point, so a watch
    /// that ends after one resumes from the bookmark's version.
    #[tokio::test]
    async fn bookmarks_move_the_resume_point() {
        let script = Arc::new(Mutex::new(Script::default()));
        script.lock().answers.extend([
            page("5", "", &[node("a", "1")]),
            events(&[
                json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}),
            ]),
            events(&[json!({"type": "ADDED", "object": node("b", "10")})]),
        ]);
        let client = serve(script.clone()).await;
        let (tx, mut rx) = mpsc::channel(64);
        let task =
            tokio::spawn(Reflector::new(0, client, all_nodes(), Timing::default(), tx).run());
        assert_eq!(until_synced(&mut rx, 1).await, ["add a", "synced"]);
        let e = next(&mut rx).await;
        assert!(matches!(e, Event::Added(ref k, _) if k == "b"), "{e:?}");
        task.abort();
        let seen = script.lock().seen.clone();
        let versions: Vec<&str> = seen[1..3]
            .iter()
            .map(|q| q.get("resourceVersion").map_or("", String::as_str))
            .collect();
        assert_eq!(versions, ["5", "9"]);
    }

    #[tokio::test]
    async fn errors_back_off_and_keep_what_is_known() {
        let script = Arc::new(Mutex::new(Script::default()));
        script.lock().answers.extend([
            page("5", "", &[node("a", "1")]),
            (500, "boom".to_string()),
            (200, "not json\n".to_string()),
            events(&[json!({"type": "ADDED", "object": node("b", "6")})]),
        ]);
        let client = serve(script.clone()).await;
        let (tx, mut rx) = mpsc::channel(64);
        let timing = Timing {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(150),
            ..Timing::default()
        };
        let task = tokio::spawn(Reflector::new(3, client, all_nodes(), timing, tx).run());
        assert_eq!(until_synced(&mut rx, 1).await, ["add a", "synced"]);
        // A 500 and an undecodable stream: nothing is reported deleted,
        // and the watch resumes from version 5 until it works.
        let e = next(&mut rx).await;
        assert!(matches!(e, Event::Added(ref k, _) if k == "b"), "{e:?}");
        task.abort();
        let script = script.lock();
        for q in &script.seen[1..4] {
            assert_eq!(q.get("resourceVersion").map(String::as_str), Some("5"));
        }
        // Each failure waits before the next try, twice as long as the
        // one before, up to the cap.
        let gap = |i: usize| script.at[i + 1] - script.at[i];
        assert!(gap(1) >= Duration::from_millis(100), "{:?}", gap(1));
        assert!(gap(2) >= Duration::from_millis(150), "{:?}", gap(2));
    }
}
