//! `kubernetes_sd_configs:` entries: which API server (`api_server`, a
//! `kubeconfig_file`, or the in-cluster service account when neither is
//! given), which role's objects become targets, in which namespaces, with
//! which selectors, and which related objects' metadata is attached.
//! Prometheus 3.x's keys, defaults, checks and error texts; the selector
//! grammar lives in [`selector`].

mod selector;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::http_client::{http_client_keys, HttpClientConfig};
use super::locate::KeyPath;
use super::validate::{clear_empty, problem, resolve, Problem};

http_client_keys! {
    /// One `kubernetes_sd_configs:` entry. The HTTP client keys apply to
    /// `api_server` only: in-cluster and kubeconfig access bring their own
    /// credentials, so setting them without `api_server` is an error.
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct KubernetesSdConfig {
        /// Required; `None` only until the loader has rejected it.
        #[serde(default)]
        pub role: Option<KubernetesRole>,
        #[serde(default)]
        pub api_server: Option<String>,
        #[serde(default)]
        pub kubeconfig_file: Option<String>,
        #[serde(default, deserialize_with = "nullable")]
        pub namespaces: NamespaceDiscovery,
        #[serde(default, deserialize_with = "nullable")]
        pub selectors: Vec<SelectorConfig>,
        #[serde(default, deserialize_with = "nullable")]
        pub attach_metadata: AttachMetadata,
    }
}

/// A key written with no value (`namespaces:`) reads as its default, as
/// Go's YAML decoder leaves the zero value there.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What a `kubernetes_sd_configs` entry turns into targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KubernetesRole {
    Node,
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
}

impl KubernetesRole {
    /// Every role, in the order Prometheus lists them in its metrics.
    pub const ALL: [KubernetesRole; 6] = [
        KubernetesRole::EndpointSlice,
        KubernetesRole::Endpoints,
        KubernetesRole::Node,
        KubernetesRole::Pod,
        KubernetesRole::Service,
        KubernetesRole::Ingress,
    ];

    /// The role's name in the config and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Node => "node",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Ingress => "ingress",
        }
    }

    /// The roles whose objects a `selectors:` entry may filter for this
    /// role: its own kind and the kinds it watches beside it.
    fn allowed_selectors(self) -> &'static [KubernetesRole] {
        use KubernetesRole::*;
        match self {
            Pod => &[Pod, Node],
            Service => &[Service],
            EndpointSlice => &[Pod, Service, EndpointSlice],
            Endpoints => &[Pod, Service, Endpoints],
            Node => &[Node],
            Ingress => &[Ingress],
        }
    }
}

impl fmt::Display for KubernetesRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KubernetesRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown Kubernetes SD role {s:?}")))
    }
}

/// `namespaces:`: where namespaced objects are watched. Neither key set
/// means every namespace; `own_namespace` adds the namespace Prometheus
/// runs in (in-cluster only).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    #[serde(default)]
    pub own_namespace: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub names: Vec<String>,
}

/// One `selectors:` entry: the label and field selectors sent with every
/// list and watch of `role`'s objects.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    #[serde(default)]
    pub role: Option<KubernetesRole>,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub field: String,
}

/// `attach_metadata:`: labels of related objects added to each target.
/// `node` (pod, endpoints and endpointslice roles) adds the node's;
/// `namespace` (every role but node) the namespace's; `deployment`, `job`
/// and `cronjob` (the same three roles) name a pod's owning workload,
/// found through its ReplicaSet or Job.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    #[serde(default)]
    pub node: bool,
    #[serde(default)]
    pub namespace: bool,
    #[serde(default)]
    pub deployment: bool,
    #[serde(default)]
    pub job: bool,
    #[serde(default)]
    pub cronjob: bool,
}

impl KubernetesSdConfig {
    /// The selector for `role`'s objects: `(label, field)`, empty when none
    /// is configured.
    pub fn selector(&self, role: KubernetesRole) -> (&str, &str) {
        self.selectors
            .iter()
            .find(|s| s.role == Some(role))
            .map_or(("", ""), |s| (s.label.as_str(), s.field.as_str()))
    }

    /// Prometheus's checks, in its order and with its messages; makes
    /// `kubeconfig_file` and the client's files absolute against `dir`.
    pub(crate) fn validate(&mut self, path: &KeyPath, dir: Option<&Path>) -> Result<(), Problem> {
        let Some(role) = self.role else {
            return Err(problem(
                path.clone(),
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
            ));
        };
        clear_empty(&mut self.api_server);
        clear_empty(&mut self.kubeconfig_file);
        self.with_http_client(|h| h.validate(path, dir))?;
        if let Some(url) = &self.api_server {
            check_api_server(url).map_err(|m| problem(path.key("api_server"), m))?;
        }
        let custom_client = self.with_http_client(|h| *h != HttpClientConfig::default());
        let api_server = self.api_server.is_some();
        let kubeconfig = self.kubeconfig_file.is_some();
        let own_namespace = self.namespaces.own_namespace;
        let conflicts = [
            (
                api_server && kubeconfig,
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ),
            (
                kubeconfig && custom_client,
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ),
            (
                !api_server && custom_client,
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            ),
            (
                api_server && own_namespace,
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
            ),
            (
                kubeconfig && own_namespace,
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
            ),
        ];
        if let Some((_, message)) = conflicts.iter().find(|(hit, _)| *hit) {
            return Err(problem(path.clone(), *message));
        }
        self.check_selectors(role, &path.key("selectors"))?;
        if let Some(f) = self.kubeconfig_file.as_mut() {
            resolve(f, dir);
        }
        Ok(())
    }

    fn check_selectors(&self, role: KubernetesRole, path: &KeyPath) -> Result<(), Problem> {
        let name = |r: Option<KubernetesRole>| r.map_or("", KubernetesRole::as_str);
        let mut seen = Vec::new();
        for (i, s) in self.selectors.iter().enumerate() {
            let at = path.index(i);
            if seen.contains(&s.role) {
                return Err(problem(
                    at.key("role"),
                    format!("duplicated selector role: {}", name(s.role)),
                ));
            }
            seen.push(s.role);
            let allowed = role.allowed_selectors();
            if !s.role.is_some_and(|r| allowed.contains(&r)) {
                let list: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(problem(
                    at.key("role"),
                    format!("{role} role supports only {} selectors", list.join(", ")),
                ));
            }
            selector::check_field(&s.field).map_err(|m| problem(at.key("field"), m))?;
            selector::check_label(&s.label).map_err(|m| problem(at.key("label"), m))?;
        }
        Ok(())
    }
}

/// An `api_server` must be an absolute http(s) URL with a host.
fn check_api_server(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("parse {url:?}: {e}"))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(format!(
            "api_server {url:?}: URL scheme must be 'http' or 'https'"
        ));
    }
    if parsed.host_str().unwrap_or("").is_empty() {
        return Err(format!("api_server {url:?}: host is missing in URL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse_str_in_dir;
    use crate::config::test_support::{assert_err, err};

    fn job(sd: &str) -> String {
        format!("scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - {sd}\n")
    }

    fn load(sd: &str) -> KubernetesSdConfig {
        let cfg = parse_str_in_dir(&job(sd), Path::new("/etc/ferroprom")).unwrap();
        cfg.scrape_configs[0].kubernetes_sd_configs[0].clone()
    }

    #[test]
    fn every_key_parses() {
        let c = load(
            "role: endpoints
        api_server: https://10.0.0.1:6443
        authorization: {credentials_file: token}
        tls_config: {ca_file: ca.crt, insecure_skip_verify: true}
        namespaces: {names: [a, b]}
        selectors:
          - {role: pod, label: 'app in (web, api),tier!=db', field: 'spec.nodeName=n1'}
          - {role: service, label: 'team'}
        attach_metadata: {node: true, namespace: true}",
        );
        assert_eq!(c.role, Some(KubernetesRole::Endpoints));
        assert_eq!(c.api_server.as_deref(), Some("https://10.0.0.1:6443"));
        assert_eq!(c.namespaces.names, ["a", "b"]);
        assert!(!c.namespaces.own_namespace);
        assert_eq!(
            c.selector(KubernetesRole::Pod),
            ("app in (web, api),tier!=db", "spec.nodeName=n1")
        );
        assert_eq!(c.selector(KubernetesRole::Service), ("team", ""));
        assert_eq!(c.selector(KubernetesRole::Endpoints), ("", ""));
        assert!(c.attach_metadata.node && c.attach_metadata.namespace);
        let auth = c.authorization.unwrap();
        assert_eq!(
            auth.credentials_file.as_deref(),
            Some("/etc/ferroprom/token")
        );
        let tls = c.tls_config.unwrap();
        assert_eq!(tls.ca_file.as_deref(), Some("/etc/ferroprom/ca.crt"));
    }

    #[test]
    fn defaults_and_relative_kubeconfig() {
        let c = load("role: pod\n        kubeconfig_file: kube/config\n        namespaces:");
        assert_eq!(
            c.kubeconfig_file.as_deref(),
            Some("/etc/ferroprom/kube/config")
        );
        assert_eq!(c.namespaces, NamespaceDiscovery::default());
        assert!(c.selectors.is_empty());
        assert_eq!(c.attach_metadata, AttachMetadata::default());
        let c = load("role: node\n        namespaces: {own_namespace: true}");
        assert!(c.namespaces.own_namespace);
    }

    #[test]
    fn workload_attach_keys() {
        let c = load(
            "role: pod\n        attach_metadata: {deployment: true, job: true, cronjob: true}",
        );
        let am = c.attach_metadata;
        assert!(am.deployment && am.job && am.cronjob && !am.node);
    }

    #[test]
    fn prometheus_checks_and_messages() {
        let at = "scrape_configs[0].kubernetes_sd_configs[0]";
        for (sd, key, what) in [
            (
                "api_server: http://a",
                "kubernetes_sd_configs[0]",
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
            ),
            ("role: pods", "role", "unknown Kubernetes SD role \"pods\""),
            (
                "role: pod\n        api_server: http://a\n        kubeconfig_file: k",
                at,
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ),
            (
                "role: pod\n        kubeconfig_file: k\n        bearer_token: t",
                at,
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ),
            (
                "role: pod\n        follow_redirects: false",
                at,
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            ),
            (
                "role: pod\n        api_server: http://a\n        namespaces: {own_namespace: true}",
                at,
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
            ),
            (
                "role: pod\n        kubeconfig_file: k\n        namespaces: {own_namespace: true}",
                at,
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
            ),
            (
                "role: pod\n        selectors: [{role: pod}, {role: pod}]",
                "selectors[1].role",
                "duplicated selector role: pod",
            ),
            (
                "role: pod\n        selectors: [{role: service}]",
                "selectors[0].role",
                "pod role supports only pod, node selectors",
            ),
            (
                "role: endpoints\n        selectors: [{role: node}]",
                "selectors[0].role",
                "endpoints role supports only pod, service, endpoints selectors",
            ),
            (
                "role: endpointslice\n        selectors: [{role: endpoints}]",
                "selectors[0].role",
                "endpointslice role supports only pod, service, endpointslice selectors",
            ),
            (
                "role: ingress\n        selectors: [{role: service}]",
                "selectors[0].role",
                "ingress role supports only ingress selectors",
            ),
            (
                "role: node\n        selectors: [{label: a}]",
                "selectors[0].role",
                "node role supports only node selectors",
            ),
            (
                "role: node\n        selectors: [{role: node, field: 'metadata.name'}]",
                "selectors[0].field",
                "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
            ),
            (
                "role: node\n        selectors: [{role: node, label: 'a=b c'}]",
                "selectors[0].label",
                "found 'c', expected: ',' or 'end of string'",
            ),
            (
                "role: node\n        api_server: 'ftp://a'",
                "api_server",
                "URL scheme must be 'http' or 'https'",
            ),
            ("role: node\n        namespace: {names: [a]}", "namespace", "unknown field `namespace`"),
            ("role: node\n        attach_metadata: {pod: true}", "pod", "unknown field `pod`"),
        ] {
            let e = err(&job(sd));
            assert!(e.contains(key), "{sd}: missing {key:?} in {e}");
            assert!(e.contains(what), "{sd}: missing {what:?} in {e}");
        }
        assert_err(
            &job("role: service\n        selectors:\n          - {role: endpoints}"),
            "selectors[0].role",
            "service role supports only service selectors",
            6,
        );
    }

    #[test]
    fn alertmanager_sets_take_the_same_keys() {
        let cfg = parse_str_in_dir(
            "alerting:\n  alertmanagers:\n    - kubernetes_sd_configs:\n        - {role: pod, namespaces: {names: [monitoring]}}\n",
            Path::new("/cfg"),
        )
        .unwrap();
        let am = &cfg.alerting.alertmanagers[0].kubernetes_sd_configs[0];
        assert_eq!(am.role, Some(KubernetesRole::Pod));
        let e = err("alerting:\n  alertmanagers:\n    - kubernetes_sd_configs: [{}]\n");
        assert!(
            e.contains("alerting.alertmanagers[0].kubernetes_sd_configs[0]")
                && e.contains("role missing"),
            "{e}"
        );
    }

    #[test]
    fn upstream_kubernetes_example_loads_unchanged() {
        let path = crate::shared_data::shared_path("conformance/sd/prometheus-kubernetes.yml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {} is absent", path.display());
            return;
        };
        let cfg = crate::config::parse_str(&text).unwrap();
        let roles: Vec<(&str, KubernetesRole)> = cfg
            .scrape_configs
            .iter()
            .flat_map(|j| {
                j.kubernetes_sd_configs
                    .iter()
                    .map(move |k| (j.job_name.as_str(), k.role.unwrap()))
            })
            .collect();
        use KubernetesRole::*;
        assert_eq!(
            roles,
            [
                ("kubernetes-apiservers", Endpoints),
                ("kubernetes-nodes", Node),
                ("kubernetes-cadvisor", Node),
                ("kubernetes-service-endpoints", Endpoints),
                ("kubernetes-services", Service),
                ("kubernetes-ingresses", Ingress),
                ("kubernetes-pods", Pod),
            ]
        );
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }
}
