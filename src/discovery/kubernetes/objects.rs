//! The subset of the Kubernetes API objects the discovery roles read, as
//! the API server encodes them in JSON (camelCase keys). Hand-written rather
//! than taken from `k8s-openapi` until that crate's build cost is measured;
//! unknown fields are ignored, absent ones take their API defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default, as the API's Go decoder does: an
/// explicit `null` and an absent key mean the same there.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `metadata` of any object: what the `_name`, `_label_*` and
/// `_annotation_*` meta labels come from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
}

/// A `v1` Namespace; only its metadata is attached to other roles' groups.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Namespace {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
}

/// A `v1` Node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Node {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: NodeSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: NodeStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeSpec {
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeStatus {
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<NodeAddress>,
    #[serde(deserialize_with = "nullable")]
    pub daemon_endpoints: NodeDaemonEndpoints,
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<NodeCondition>,
}

/// One of a node's addresses; `type` is `InternalIP`, `Hostname`, ….
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NodeAddress {
    #[serde(rename = "type")]
    pub kind: String,
    pub address: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeDaemonEndpoints {
    #[serde(deserialize_with = "nullable")]
    pub kubelet_endpoint: DaemonEndpoint,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DaemonEndpoint {
    /// Capitalised in the API's JSON, unlike every other key.
    #[serde(rename = "Port")]
    pub port: i32,
}

/// `Ready`, `MemoryPressure`, … with status `True`, `False` or `Unknown`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NodeCondition {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(deserialize_with = "nullable")]
    pub status: String,
}

/// A `v1` Service.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Service {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: ServiceSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: ServiceStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServiceSpec {
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ServicePort>,
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: String,
    pub external_name: String,
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServicePort {
    pub name: String,
    /// The API leaves it out when it is the default, `TCP`.
    #[serde(default = "tcp")]
    pub protocol: String,
    pub port: i32,
}

fn tcp() -> String {
    "TCP".to_string()
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServiceStatus {
    #[serde(deserialize_with = "nullable")]
    pub load_balancer: LoadBalancerStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoadBalancerStatus {
    #[serde(deserialize_with = "nullable")]
    pub ingress: Vec<LoadBalancerIngress>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoadBalancerIngress {
    pub ip: String,
}

/// A `networking.k8s.io/v1` Ingress.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Ingress {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: IngressSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct IngressSpec {
    pub ingress_class_name: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub tls: Vec<IngressTls>,
    #[serde(deserialize_with = "nullable")]
    pub rules: Vec<IngressRule>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IngressTls {
    /// Host names or `*.`-wildcard patterns served over TLS.
    #[serde(deserialize_with = "nullable")]
    pub hosts: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IngressRule {
    pub host: String,
    /// Absent and present-but-empty differ: absent means "every path" (`/`),
    /// present without paths means no target for this rule.
    pub http: Option<HttpIngressRuleValue>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HttpIngressRuleValue {
    #[serde(deserialize_with = "nullable")]
    pub paths: Vec<HttpIngressPath>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HttpIngressPath {
    pub path: String,
}
