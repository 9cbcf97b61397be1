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
    /// The pod role's `_uid`.
    pub uid: String,
    /// Whose the object is: the pod role names a pod's controller, and
    /// follows a ReplicaSet's or Job's to its Deployment or CronJob.
    #[serde(deserialize_with = "nullable")]
    pub owner_references: Vec<OwnerReference>,
}

impl ObjectMeta {
    /// The owner flagged as the object's controller, as Kubernetes'
    /// `GetControllerOf` picks it: the first with `controller: true`.
    pub(crate) fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|o| o.controller)
    }
}

/// One entry of `metadata.ownerReferences`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OwnerReference {
    pub kind: String,
    pub name: String,
    /// Absent and `false` mean the same: not the controller.
    #[serde(deserialize_with = "nullable")]
    pub controller: bool,
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
    pub conditions: Vec<Condition>,
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

/// A node's or pod's condition: `Ready`, `MemoryPressure`, … with status
/// `True`, `False` or `Unknown`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Condition {
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
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`; absent on
    /// services older than dual-stack support.
    pub ip_family_policy: Option<String>,
    /// `IPv4` / `IPv6`, the primary family first.
    #[serde(deserialize_with = "nullable")]
    pub ip_families: Vec<String>,
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

/// A `v1` Pod.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Pod {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: PodSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodSpec {
    /// Empty until the pod is scheduled.
    pub node_name: String,
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    /// Run before `containers`; those with `restartPolicy: Always` keep
    /// running beside them (sidecars). Prometheus treats both kinds alike.
    #[serde(deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Container {
    pub name: String,
    pub image: String,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContainerPort {
    pub name: String,
    pub container_port: i32,
    /// The API leaves it out when it is the default, `TCP`.
    #[serde(default = "tcp")]
    pub protocol: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    /// Empty while the pod starts and after it was evicted.
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    #[serde(deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(deserialize_with = "nullable")]
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// The runtime's view of one container, matched to the spec by name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContainerStatus {
    pub name: String,
    /// `<runtime>://<id>`; empty until the container was created.
    #[serde(rename = "containerID")]
    pub container_id: String,
}

/// An `apps/v1` ReplicaSet: only its owner (a Deployment) is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReplicaSet {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
}

/// A `batch/v1` Job: only its owner (a CronJob) is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Job {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
}

/// A `v1` Endpoints: the addresses behind the same-named service.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Endpoints {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub subsets: Vec<EndpointSubset>,
}

/// Addresses sharing one set of ports.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointSubset {
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<EndpointPort>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointAddress {
    pub ip: String,
    pub hostname: String,
    /// Absent and empty differ in the labels: only a present one is shown.
    pub node_name: Option<String>,
    pub target_ref: Option<ObjectReference>,
}

/// What an address points at: usually a Pod, sometimes a Node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ObjectReference {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EndpointPort {
    pub name: String,
    pub port: i32,
    /// The API leaves it out when it is the default, `TCP`.
    #[serde(default = "tcp")]
    pub protocol: String,
}

/// A `discovery.k8s.io/v1` EndpointSlice. Unlike `Endpoints`, most of its
/// fields are optional in the API, and Prometheus labels only those present.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointSlice {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    #[serde(deserialize_with = "nullable")]
    pub endpoints: Vec<Endpoint>,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<EndpointSlicePort>,
}

/// The label naming the service a slice belongs to.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One backend of a slice; its addresses are interchangeable.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Endpoint {
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub conditions: EndpointConditions,
    pub hostname: Option<String>,
    pub target_ref: Option<ObjectReference>,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    /// The pre-`zone` topology map, still labelled.
    #[serde(deserialize_with = "nullable")]
    pub deprecated_topology: BTreeMap<String, String>,
}

/// Each condition is unknown (absent) unless the controller set it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EndpointConditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointSlicePort {
    pub name: Option<String>,
    /// Absent means "every port": the target is the bare address.
    pub port: Option<i32>,
    pub protocol: Option<String>,
    pub app_protocol: Option<String>,
}
