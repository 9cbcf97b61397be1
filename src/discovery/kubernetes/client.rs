//! The API server connection: where it is and which credentials it takes
//! ([`Access`], from `api_server` and the entry's HTTP client keys, from a
//! kubeconfig file, or from the pod's service account), and the two
//! requests discovery makes: one page of a list, and a watch whose body is
//! a stream of events. Built on the project's one HTTP client
//! ([`crate::http_client`]), so TLS, credentials read per request (a
//! rotated service-account token is picked up at the next request) and
//! HTTP/2 behave as everywhere else.

use std::time::Duration;

use reqwest::{Client, Response, StatusCode, Url};

use super::error::KubeError;
use super::{in_cluster, kubeconfig};
use crate::config::{Authorization, BasicAuth, KubernetesSdConfig, TlsConfig};
use crate::http_client::{self, ClientSettings};

/// How long one list page may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);
/// How much longer than the `timeoutSeconds` it asked for a watch may
/// stay open before the client gives up on it.
const WATCH_SLACK: Duration = Duration::from_secs(30);

/// Where the API server is and how to authenticate to it.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    pub server: Url,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub tls: Option<TlsConfig>,
    pub follow_redirects: bool,
    pub enable_http2: bool,
    /// The namespace the pod runs in (in-cluster only), for
    /// `namespaces.own_namespace`.
    pub own_namespace: Option<String>,
}

impl Access {
    /// The access `cfg` describes: `api_server` with its HTTP client keys,
    /// else `kubeconfig_file`, else the in-cluster service account.
    pub(crate) fn from_config(cfg: &KubernetesSdConfig) -> Result<Access, KubeError> {
        if let Some(url) = &cfg.api_server {
            let s = cfg.client_settings(LIST_TIMEOUT);
            return Ok(Access {
                server: parse_server(url)?,
                basic_auth: s.basic_auth.cloned(),
                authorization: s.authorization.cloned(),
                tls: s.tls.cloned(),
                follow_redirects: s.follow_redirects,
                enable_http2: s.enable_http2,
                own_namespace: None,
            });
        }
        if let Some(path) = &cfg.kubeconfig_file {
            return kubeconfig::access(std::path::Path::new(path));
        }
        in_cluster::access(
            |name| std::env::var(name).ok(),
            std::path::Path::new(in_cluster::SERVICE_ACCOUNT_DIR),
            cfg.namespaces.own_namespace,
        )
    }

    fn settings(&self) -> ClientSettings<'_> {
        ClientSettings {
            basic_auth: self.basic_auth.as_ref(),
            authorization: self.authorization.as_ref(),
            tls: self.tls.as_ref(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            // Every request sets its own: lists are short, watches long.
            timeout: LIST_TIMEOUT,
        }
    }
}

/// `url` as the base every API path is joined to.
pub(crate) fn parse_server(url: &str) -> Result<Url, KubeError> {
    let mut parsed = Url::parse(url).map_err(|e| KubeError::Url {
        url: url.to_string(),
        msg: e.to_string(),
    })?;
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// A client for one API server.
pub(crate) struct ApiClient {
    access: Access,
    http: Client,
}

impl ApiClient {
    /// Builds the HTTP client (reads CA and certificate files now).
    pub(crate) fn new(access: Access) -> Result<ApiClient, KubeError> {
        let http = http_client::build(&access.settings())?;
        Ok(ApiClient { access, http })
    }

    /// The pod's own namespace, when running in-cluster.
    pub(crate) fn own_namespace(&self) -> Option<&str> {
        self.access.own_namespace.as_deref()
    }

    fn request(
        &self,
        path: &str,
        query: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, KubeError> {
        let mut url = self
            .access
            .server
            .join(path.trim_start_matches('/'))
            .map_err(|e| KubeError::Url {
                url: path.to_string(),
                msg: e.to_string(),
            })?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().filter(|(_, v)| !v.is_empty()));
        let req = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout);
        Ok(http_client::authorize(req, &self.access.settings())?)
    }

    /// GETs one list page; the body is the list's JSON.
    pub(crate) async fn list(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<bytes::Bytes, KubeError> {
        let resp = checked(self.request(path, query, LIST_TIMEOUT)?.send().await?).await?;
        Ok(resp.bytes().await?)
    }

    /// Opens a watch (`query` must hold `watch=1`); the server ends it
    /// after `timeout` at the latest, and so does the client a little later.
    pub(crate) async fn watch(
        &self,
        path: &str,
        query: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, KubeError> {
        checked(
            self.request(path, query, timeout + WATCH_SLACK)?
                .send()
                .await?,
        )
        .await
    }
}

/// The response if it is a success; 410 as [`KubeError::Gone`]; any other
/// status with the start of its body (the API's `Status` message).
async fn checked(resp: Response) -> Result<Response, KubeError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if status == StatusCode::GONE {
        return Err(KubeError::Gone);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(KubeError::Status {
        status,
        body: body.chars().take(512).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_keep_their_prefix() {
        let u = parse_server("https://example.com:6443/k8s").unwrap();
        assert_eq!(
            u.join("api/v1/pods").unwrap().as_str(),
            "https://example.com:6443/k8s/api/v1/pods"
        );
        let u = parse_server("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            u.join("api/v1/nodes").unwrap().as_str(),
            "http://127.0.0.1:8080/api/v1/nodes"
        );
        assert!(matches!(
            parse_server("not a url"),
            Err(KubeError::Url { .. })
        ));
    }

    #[test]
    fn api_server_access_carries_the_client_keys() {
        let cfg: KubernetesSdConfig = serde_yaml_ng::from_str(
            "role: pod\napi_server: https://10.0.0.1:6443\nbasic_auth: {username: u, password: p}\nenable_http2: false",
        )
        .unwrap();
        let a = Access::from_config(&cfg).unwrap();
        assert_eq!(a.server.as_str(), "https://10.0.0.1:6443/");
        assert_eq!(a.basic_auth.unwrap().username, "u");
        assert!(!a.enable_http2);
        assert_eq!(a.own_namespace, None);
    }
}
