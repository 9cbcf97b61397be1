//! Why Kubernetes discovery could not start, or why one request to the
//! API server failed.

use crate::http_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeError {
    /// Only for an entry that skipped the loader's checks.
    #[error("role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")]
    RoleMissing,
    /// Neither `api_server` nor `kubeconfig_file`, and not running in a
    /// pod: Go's client-go words it this way.
    #[error("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")]
    NotInCluster,
    #[error("{path}: {msg}")]
    ServiceAccount { path: String, msg: String },
    #[error("could not determine the pod's namespace: {0}")]
    OwnNamespace(String),
    #[error("kubeconfig {path}: {msg}")]
    Kubeconfig { path: String, msg: String },
    #[error("invalid API server URL {url:?}: {msg}")]
    Url { url: String, msg: String },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    /// The resource version asked for is older than the server keeps
    /// (HTTP 410, or an ERROR watch event with code 410): list again.
    #[error("resource version too old (410 Gone)")]
    Gone,
    #[error("server returned HTTP status {status}: {body}")]
    Status {
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("watch returned an error event: {0}")]
    WatchError(String),
    #[error("undecodable answer: {0}")]
    Decode(String),
}
