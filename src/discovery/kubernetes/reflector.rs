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
