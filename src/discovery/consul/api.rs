//! The three Consul HTTP API calls discovery makes, sent as Consul's own Go
//! client sends them (the one Prometheus uses): `GET /v1/agent/self` for
//! the agent's datacenter, `GET /v1/catalog/services` for the service list
//! and `GET /v1/health/service/<name>` for a service's instances.
//!
//! Every request carries the client-wide parameters (`dc`, `ns`,
//! `partition` when configured) and the token as `X-Consul-Token`; the two
//! watched calls add the blocking-query parameters (`index`, `wait`), and
//! `stale`, `node-meta`, `filter` and `tag` as configured. Parameters are
//! sorted by name, as Go's `url.Values` encodes them. An answer other than
//! 200 fails with Consul's client's message, `Unexpected response code:
//! <code> (<body>)`.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::consul_sd::base_url;
use crate::config::ConsulSdConfig;
use crate::http_client::{self, ClientError, ClientSettings};

/// Consul's header carrying the index a blocking query waits on.
const INDEX_HEADER: &str = "X-Consul-Index";
/// Consul's header carrying the ACL token.
const TOKEN_HEADER: &str = "X-Consul-Token";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("invalid Consul address: {0}")]
    Address(String),
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("Unexpected response code: {code} ({body})")]
    Status { code: u16, body: String },
    #[error("invalid answer: {0}")]
    Json(#[from] serde_json::Error),
    /// `/v1/agent/self` answered without a string `Config.Datacenter`;
    /// the value is written as Go's `%v` writes it (`<nil>` when absent).
    #[error("invalid value '{0}' for Config.Datacenter")]
    Datacenter(String),
}

impl ApiError {
    /// Whether the call itself failed (Prometheus counts these in
    /// `prometheus_sd_consul_rpc_failures_total`), rather than answering
    /// something unusable.
    pub(crate) fn is_rpc_failure(&self) -> bool {
        !matches!(self, ApiError::Datacenter(_))
    }
}

/// A decoded answer and the `X-Consul-Index` that came with it (0 when
/// absent or unreadable, as Consul's client reads it).
pub(crate) struct Answer<T> {
    pub(crate) body: T,
    pub(crate) index: u64,
}

/// One instance of a service, as `/v1/health/service/<name>` lists it.
/// Any field may be missing or null.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ServiceEntry {
    #[serde(rename = "Node")]
    pub(crate) node: Option<Node>,
    #[serde(rename = "Service")]
    pub(crate) service: Option<AgentService>,
    #[serde(rename = "Checks")]
    pub(crate) checks: Option<Vec<HealthCheck>>,
}

/// The node an instance runs on.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct Node {
    pub(crate) node: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) tagged_addresses: Option<BTreeMap<String, String>>,
    pub(crate) meta: Option<BTreeMap<String, String>>,
}

/// The instance itself.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct AgentService {
    #[serde(rename = "ID")]
    pub(crate) id: Option<String>,
    pub(crate) tags: Option<Vec<String>>,
    pub(crate) meta: Option<BTreeMap<String, String>>,
    pub(crate) port: Option<i64>,
    pub(crate) address: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) partition: Option<String>,
}

/// One health check of an instance or of its node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(crate) struct HealthCheck {
    #[serde(rename = "CheckID")]
    pub(crate) check_id: Option<String>,
    pub(crate) status: Option<String>,
}

/// The catalog: every service name with the tags its instances carry.
pub(crate) type Services = BTreeMap<String, Vec<String>>;

/// A client for one `consul_sd_configs` entry.
pub(crate) struct ConsulApi {
    http: reqwest::Client,
    base: Url,
    cfg: ConsulSdConfig,
    wait: Duration,
}

impl ConsulApi {
    /// The client for `cfg`; watched calls ask Consul to hold them for
    /// up to `wait`, and any request is abandoned 15s after that, as in
    /// Prometheus.
    pub(crate) fn new(cfg: ConsulSdConfig, wait: Duration) -> Result<ConsulApi, ApiError> {
        let base = base_url(&cfg).map_err(ApiError::Address)?;
        let base = Url::parse(&base).map_err(|e| ApiError::Address(e.to_string()))?;
        let http = http_client::build(&settings(&cfg, wait))?;
        Ok(ConsulApi {
            http,
            base,
            cfg,
            wait,
        })
    }

    /// The datacenter of the agent answering.
    pub(crate) async fn agent_datacenter(&self) -> Result<String, ApiError> {
        let answer: Answer<serde_json::Value> = self.get(&["agent", "self"], Vec::new()).await?;
        match answer.body.get("Config").and_then(|c| c.get("Datacenter")) {
            Some(serde_json::Value::String(dc)) => Ok(dc.clone()),
            None | Some(serde_json::Value::Null) => Err(ApiError::Datacenter("<nil>".into())),
            Some(other) => Err(ApiError::Datacenter(other.to_string())),
        }
    }

    /// The catalog's services, blocking while the catalog's index is still
    /// `index` (0: answer at once). Filtered by `node_meta` and `filter`.
    pub(crate) async fn catalog_services(&self, index: u64) -> Result<Answer<Services>, ApiError> {
        let params = self.watch_params(index, &self.cfg.filter);
        let answer: Answer<Option<BTreeMap<String, Option<Vec<String>>>>> =
            self.get(&["catalog", "services"], params).await?;
        let body = answer
            .body
            .unwrap_or_default()
            .into_iter()
            .map(|(name, tags)| (name, tags.unwrap_or_default()))
            .collect();
        Ok(Answer {
            body,
            index: answer.index,
        })
    }

    /// The instances of service `name` that carry every configured tag,
    /// healthy or not, blocking while the service's index is still
    /// `index`. Filtered by `node_meta` and `health_filter`.
    pub(crate) async fn health_service(
        &self,
        name: &str,
        index: u64,
    ) -> Result<Answer<Vec<ServiceEntry>>, ApiError> {
        let mut params = self.watch_params(index, &self.cfg.health_filter);
        params.extend(self.cfg.tags.iter().map(|t| ("tag", t.clone())));
        let answer: Answer<Option<Vec<ServiceEntry>>> =
            self.get(&["health", "service", name], params).await?;
        Ok(Answer {
            body: answer.body.unwrap_or_default(),
            index: answer.index,
        })
    }

    /// The parameters of a watched call.
    fn watch_params(&self, index: u64, filter: &str) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if self.cfg.allow_stale {
            params.push(("stale", String::new()));
        }
        if index != 0 {
            params.push(("index", index.to_string()));
        }
        params.push(("wait", wait_param(self.wait)));
        if !filter.is_empty() {
            params.push(("filter", filter.to_string()));
        }
        for (k, v) in &self.cfg.node_meta {
            params.push(("node-meta", format!("{k}:{v}")));
        }
        params
    }

    /// GETs `/v1/<path...>` with `params` plus the client-wide ones.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        mut params: Vec<(&'static str, String)>,
    ) -> Result<Answer<T>, ApiError> {
        for (key, value) in [
            ("dc", &self.cfg.datacenter),
            ("ns", &self.cfg.namespace),
            ("partition", &self.cfg.partition),
        ] {
            if !value.is_empty() {
                params.push((key, value.clone()));
            }
        }
        let url = self.url(path, params)?;
        let mut req = self.http.get(url);
        if let Some(token) = self.cfg.token.as_deref().filter(|t| !t.is_empty()) {
            req = req.header(TOKEN_HEADER, token);
        }
        let req = http_client::authorize(req, &settings(&self.cfg, self.wait))?;
        let resp = req.send().await?;
        let index = resp
            .headers()
            .get(INDEX_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if code != 200 {
            let body = String::from_utf8_lossy(&bytes).trim().to_string();
            return Err(ApiError::Status { code, body });
        }
        let body = serde_json::from_slice(&bytes)?;
        Ok(Answer { body, index })
    }

    /// The URL of `/v1/<path...>` under the configured base, each path
    /// element escaped (a service name is one element whatever it holds),
    /// with `params` sorted by name.
    fn url(&self, path: &[&str], mut params: Vec<(&str, String)>) -> Result<Url, ApiError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::Address(self.base.to_string()))?
            .pop_if_empty()
            .push("v1")
            .extend(path);
        // Stable: the values of a repeated parameter keep their order.
        params.sort_by(|a, b| a.0.cmp(b.0));
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        Ok(url)
    }
}

/// The client settings: the entry's credentials and TLS, requests bounded
/// by the blocking wait plus 15s.
fn settings(cfg: &ConsulSdConfig, wait: Duration) -> ClientSettings<'_> {
    cfg.client_settings(wait + Duration::from_secs(15))
}

/// `wait` as Consul's client writes it: whole milliseconds, at least 1.
fn wait_param(wait: Duration) -> String {
    format!("{}ms", wait.as_millis().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(yaml: &str) -> ConsulApi {
        let cfg: ConsulSdConfig = serde_yaml_ng::from_str(yaml).unwrap();
        ConsulApi::new(cfg, Duration::from_secs(120)).unwrap()
    }

    fn query(api: &ConsulApi, path: &[&str], params: Vec<(&'static str, String)>) -> String {
        let u = api.url(path, params).unwrap();
        format!("{}?{}", u.path(), u.query().unwrap_or(""))
    }

    #[test]
    fn parameters_are_sorted_and_escaped_as_go_does() {
        let a = api("{allow_stale: true, node_meta: {rack_name: '2304'}, tags: [tag1]}");
        let mut p = a.watch_params(0, "");
        p.push(("tag", "tag1".into()));
        assert_eq!(
            query(&a, &["health", "service", "test"], p),
            "/v1/health/service/test?node-meta=rack_name%3A2304&stale=&tag=tag1&wait=120000ms"
        );
        let a = api("{allow_stale: false}");
        let p = a.watch_params(1, r#"NodeMeta.rack_name == "2304""#);
        assert_eq!(
            query(&a, &["catalog", "services"], p),
            "/v1/catalog/services?filter=NodeMeta.rack_name+%3D%3D+%222304%22&index=1&wait=120000ms"
        );
    }

    #[test]
    fn service_names_are_one_escaped_path_element_under_the_prefix() {
        let a = api("{server: 'https://c:1/gw/', allow_stale: false}");
        let u = a.url(&["health", "service", "a b/c?"], Vec::new()).unwrap();
        assert_eq!(u.as_str(), "https://c:1/gw/v1/health/service/a%20b%2Fc%3F");
    }

    #[test]
    fn wait_is_whole_milliseconds() {
        assert_eq!(wait_param(Duration::from_secs(120)), "120000ms");
        assert_eq!(wait_param(Duration::from_micros(10)), "1ms");
        assert_eq!(wait_param(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn entries_survive_missing_and_null_fields() {
        let v: Vec<ServiceEntry> = serde_json::from_str(
            r#"[{"Node": null, "Service": {"Tags": null, "Meta": null, "Port": 80}, "Checks": null}, {}]"#,
        )
        .unwrap();
        assert!(v[0].node.is_none());
        assert_eq!(v[0].service.as_ref().unwrap().port, Some(80));
        assert!(v[1].service.is_none());
    }
}
