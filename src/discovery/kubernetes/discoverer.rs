//! One `kubernetes_sd_configs` entry at work: the reflectors its role
//! needs, the stores they fill, and the target groups built from them.
//!
//! A role is one arm of [`Discoverer::build`] plus the kinds
//! [`watched_kinds`] lists for it. Namespaced kinds get one reflector per
//! namespace of `namespaces:` (all namespaces when none is named);
//! `selectors:` go along as label and field selectors.
//!
//! Groups are built through a [`Recorder`], which notes every related
//! object a builder looked up (found or not). When such an object changes
//! (a pod behind an endpoint, a node or namespace whose metadata is
//! attached), exactly the groups that looked it up are rebuilt, and only
//! groups that came out different count as a change. The full list is
//! sent once every reflector has listed, then after each batch of events
//! that changed something.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::client::{Access, ApiClient};
use super::error::KubeError;
use super::kind::{Kind, Object};
use super::metrics::{count_event, EventType};
use super::objects::{Ingress, Namespace, Node, Service};
use super::reflector::{Event, Reflector, Timing, Watched};
use super::{ingress, node, service};
use crate::config::{KubernetesRole, KubernetesSdConfig};
use crate::discovery::TargetGroup;

/// The kinds `role` watches, each with the role whose selector filters it
/// (`None`: namespaces, which are never filtered). Metadata attached from
/// nodes and namespaces adds their kinds.
fn watched_kinds(
    role: KubernetesRole,
    attach_node: bool,
    attach_namespace: bool,
) -> Vec<(Kind, Option<KubernetesRole>)> {
    use KubernetesRole as R;
    let mut kinds = match role {
        R::Node => vec![(Kind::Node, Some(R::Node))],
        R::Service => vec![(Kind::Service, Some(R::Service))],
        R::Ingress => vec![(Kind::Ingress, Some(R::Ingress))],
        // Roles that are not wired yet watch nothing (the loader accepts
        // them; their builders come with the pod and endpoints roles).
        R::Pod | R::Endpoints | R::EndpointSlice => Vec::new(),
    };
    let node_metadata = matches!(role, R::Pod | R::Endpoints | R::EndpointSlice);
    if attach_node && node_metadata {
        kinds.push((Kind::Node, Some(R::Node)));
    }
    if attach_namespace && role != R::Node {
        kinds.push((Kind::Namespace, None));
    }
    kinds
}

/// Which role's event counter an event of `kind` goes to, as Prometheus
/// counts them: the role's own kind always; in the endpoints roles also
/// services, and pod updates; never attached nodes and namespaces.
fn counted_as(role: KubernetesRole, kind: Kind, event: EventType) -> Option<KubernetesRole> {
    use KubernetesRole as R;
    match (role, kind) {
        (R::Node, Kind::Node) | (R::Service, Kind::Service) | (R::Ingress, Kind::Ingress) => {
            Some(role)
        }
        (R::Endpoints | R::EndpointSlice, Kind::Service) => Some(R::Service),
        _ => {
            let _ = event;
            None
        }
    }
}

/// The objects every reflector of one entry has reported, by kind and key.
#[derive(Default)]
struct Stores {
    nodes: HashMap<String, Arc<Node>>,
    namespaces: HashMap<String, Arc<Namespace>>,
    services: HashMap<String, Arc<Service>>,
    ingresses: HashMap<String, Arc<Ingress>>,
}

impl Stores {
    fn insert(&mut self, key: String, object: Object) {
        match object {
            Object::Node(o) => drop(self.nodes.insert(key, o)),
            Object::Namespace(o) => drop(self.namespaces.insert(key, o)),
            Object::Service(o) => drop(self.services.insert(key, o)),
            Object::Ingress(o) => drop(self.ingresses.insert(key, o)),
        }
    }

    fn remove(&mut self, kind: Kind, key: &str) {
        match kind {
            Kind::Node => drop(self.nodes.remove(key)),
            Kind::Namespace => drop(self.namespaces.remove(key)),
            Kind::Service => drop(self.services.remove(key)),
            Kind::Ingress => drop(self.ingresses.remove(key)),
        }
    }
}

/// Read access to the stores that notes every lookup, found or not.
struct Recorder<'a> {
    stores: &'a Stores,
    seen: RefCell<Vec<(Kind, String)>>,
}

impl<'a> Recorder<'a> {
    fn new(stores: &'a Stores) -> Self {
        Recorder {
            stores,
            seen: RefCell::new(Vec::new()),
        }
    }

    fn note(&self, kind: Kind, key: &str) {
        self.seen.borrow_mut().push((kind, key.to_string()));
    }

    fn namespace(&self, name: &str) -> Option<&'a Namespace> {
        self.note(Kind::Namespace, name);
        self.stores.namespaces.get(name).map(|n| &**n)
    }
}

/// The groups of one entry and what they were built from.
struct Discoverer {
    role: KubernetesRole,
    attach_namespace: bool,
    stores: Stores,
    /// Per primary object (by key), its group as last built.
    groups: BTreeMap<String, TargetGroup>,
    /// Related object → the primary objects whose build looked it up.
    dependents: HashMap<(Kind, String), BTreeSet<String>>,
    /// Primary object → what its build looked up.
    looked_up: HashMap<String, Vec<(Kind, String)>>,
    /// A group changed since the last send.
    changed: bool,
}

impl Discoverer {
    fn new(cfg: &KubernetesSdConfig, role: KubernetesRole) -> Self {
        Discoverer {
            role,
            attach_namespace: cfg.attach_metadata.namespace,
            stores: Stores::default(),
            groups: BTreeMap::new(),
            dependents: HashMap::new(),
            looked_up: HashMap::new(),
            changed: false,
        }
    }

    /// The kind whose objects become groups.
    fn primary(&self) -> Kind {
        match self.role {
            KubernetesRole::Node => Kind::Node,
            KubernetesRole::Service => Kind::Service,
            KubernetesRole::Ingress => Kind::Ingress,
            // Not wired yet: nothing is watched for them.
            KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice => {
                Kind::Namespace
            }
        }
    }

    /// The group of primary object `key`, and what building it looked up:
    /// `None` when the object is gone; `Some(None)` when its builder
    /// declines it (a node without a usable address), which keeps the
    /// previous group, as Prometheus does.
    fn build(&self, key: &str) -> (Option<Option<TargetGroup>>, Vec<(Kind, String)>) {
        let rec = Recorder::new(&self.stores);
        let namespace_of = |ns: &str| {
            if self.attach_namespace {
                rec.namespace(ns)
            } else {
                None
            }
        };
        let group = match self.role {
            KubernetesRole::Node => self.stores.nodes.get(key).map(|n| node::target_group(n)),
            KubernetesRole::Service => self.stores.services.get(key).map(|s| {
                Some(service::target_group(
                    s,
                    namespace_of(&s.metadata.namespace),
                ))
            }),
            KubernetesRole::Ingress => self.stores.ingresses.get(key).map(|i| {
                Some(ingress::target_group(
                    i,
                    namespace_of(&i.metadata.namespace),
                ))
            }),
            KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice => None,
        };
        (group, rec.seen.into_inner())
    }

    /// Rebuilds the group of primary object `key`.
    fn rebuild(&mut self, key: &str) {
        let (group, seen) = self.build(key);
        for dep in self.looked_up.remove(key).unwrap_or_default() {
            if let Some(set) = self.dependents.get_mut(&dep) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(&dep);
                }
            }
        }
        match group {
            None => {
                self.changed |= self.groups.remove(key).is_some();
                return;
            }
            Some(None) => {}
            Some(Some(g)) => {
                if self.groups.get(key) != Some(&g) {
                    self.groups.insert(key.to_string(), g);
                    self.changed = true;
                }
            }
        }
        for dep in &seen {
            self.dependents
                .entry(dep.clone())
                .or_default()
                .insert(key.to_string());
        }
        self.looked_up.insert(key.to_string(), seen);
    }

    /// Applies one reflector event: the store, the metric, the groups.
    fn handle(&mut self, event: Event) {
        let (kind, key, event_type) = match event {
            Event::Synced(_) => return,
            Event::Added(key, o) => {
                let kind = o.kind();
                self.stores.insert(key.clone(), o);
                (kind, key, EventType::Add)
            }
            Event::Updated(key, o) => {
                let kind = o.kind();
                self.stores.insert(key.clone(), o);
                (kind, key, EventType::Update)
            }
            Event::Deleted(kind, key) => {
                self.stores.remove(kind, &key);
                (kind, key, EventType::Delete)
            }
        };
        if let Some(role) = counted_as(self.role, kind, event_type) {
            count_event(role, event_type);
        }
        if kind == self.primary() {
            self.rebuild(&key);
        }
        let affected: Vec<String> = self
            .dependents
            .get(&(kind, key))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for k in affected {
            self.rebuild(&k);
        }
    }

    fn target_groups(&self) -> Vec<TargetGroup> {
        self.groups.values().cloned().collect()
    }
}

/// A `kubernetes_sd_configs` entry ready to run.
pub(crate) struct KubernetesSd {
    cfg: KubernetesSdConfig,
    role: KubernetesRole,
    client: Arc<ApiClient>,
    timing: Timing,
}

impl KubernetesSd {
    /// Sets up API access for `cfg`; fails when it cannot (not in a
    /// cluster, an unreadable kubeconfig or certificate), which Prometheus
    /// counts as a failed SD config.
    pub(crate) fn new(cfg: &KubernetesSdConfig) -> Result<KubernetesSd, KubeError> {
        Self::with_timing(cfg, Timing::default())
    }

    pub(crate) fn with_timing(
        cfg: &KubernetesSdConfig,
        timing: Timing,
    ) -> Result<KubernetesSd, KubeError> {
        let role = cfg.role.ok_or(KubeError::RoleMissing)?;
        let client = Arc::new(ApiClient::new(Access::from_config(cfg)?)?);
        Ok(KubernetesSd {
            cfg: cfg.clone(),
            role,
            client,
            timing,
        })
    }

    /// The namespaces to watch namespaced kinds in: `None` for all.
    fn namespaces(&self) -> Vec<Option<String>> {
        let ns = &self.cfg.namespaces;
        let mut names: Vec<String> = ns.names.clone();
        if ns.own_namespace {
            names.extend(self.client.own_namespace().map(str::to_string));
        } else if names.is_empty() {
            return vec![None];
        }
        names.sort();
        names.dedup();
        names.into_iter().map(Some).collect()
    }

    /// Every collection to follow.
    fn watched(&self) -> Vec<Watched> {
        let attach = &self.cfg.attach_metadata;
        let mut out = Vec::new();
        for (kind, selector_role) in watched_kinds(self.role, attach.node, attach.namespace) {
            let (label, field) = selector_role.map_or(("", ""), |r| self.cfg.selector(r));
            let namespaces = if kind.namespaced() {
                self.namespaces()
            } else {
                vec![None]
            };
            for namespace in namespaces {
                out.push(Watched {
                    kind,
                    namespace,
                    label_selector: label.to_string(),
                    field_selector: field.to_string(),
                });
            }
        }
        out
    }

    /// Runs until `tx` is closed or this future is dropped (which stops
    /// the reflectors too).
    pub(crate) async fn run(self, tx: mpsc::Sender<Vec<TargetGroup>>) {
        let watched = self.watched();
        let (events_tx, mut events) = mpsc::channel(1024);
        let mut reflectors = JoinSet::new();
        for (id, w) in watched.iter().enumerate() {
            let r = Reflector::new(
                id,
                Arc::clone(&self.client),
                w.clone(),
                self.timing,
                events_tx.clone(),
            );
            reflectors.spawn(r.run());
        }
        drop(events_tx);
        let mut d = Discoverer::new(&self.cfg, self.role);
        let mut synced = vec![false; watched.len()];
        let mut sent = false;
        if watched.is_empty() {
            let _ = tx.send(Vec::new()).await;
            sent = true;
        }
        while let Some(first) = events.recv().await {
            let mut next = Some(first);
            // Apply everything already queued before sending once.
            while let Some(event) = next {
                if let Event::Synced(id) = event {
                    synced[id] = true;
                }
                d.handle(event);
                next = events.try_recv().ok();
            }
            if synced.iter().all(|s| *s) && (d.changed || !sent) {
                d.changed = false;
                sent = true;
                if tx.send(d.target_groups()).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::discovery::kubernetes::test_support::object;

    fn cfg(yaml: &str) -> KubernetesSdConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn svc(name: &str, port: i32) -> Object {
        Object::Service(Arc::new(object(json!({
            "metadata": {"name": name, "namespace": "ns1"},
            "spec": {"ports": [{"port": port}], "type": "ClusterIP", "clusterIP": "10.0.0.1"},
        }))))
    }

    fn namespace(label: &str) -> Object {
        Object::Namespace(Arc::new(object(json!({
            "metadata": {"name": "ns1", "labels": {"team": label}},
        }))))
    }

    #[test]
    fn kinds_per_role() {
        use KubernetesRole as R;
        assert_eq!(
            watched_kinds(R::Node, true, true),
            [(Kind::Node, Some(R::Node))]
        );
        assert_eq!(
            watched_kinds(R::Service, true, true),
            [(Kind::Service, Some(R::Service)), (Kind::Namespace, None)]
        );
        assert_eq!(
            watched_kinds(R::Ingress, false, false),
            [(Kind::Ingress, Some(R::Ingress))]
        );
    }

    #[test]
    fn attached_namespace_changes_rebuild_only_its_groups() {
        let c = cfg("role: service\nattach_metadata: {namespace: true}");
        let mut d = Discoverer::new(&c, KubernetesRole::Service);
        d.handle(Event::Added("ns1/a".into(), svc("a", 80)));
        d.handle(Event::Added("ns1/b".into(), svc("b", 81)));
        assert_eq!(d.groups.len(), 2);
        assert!(!d.groups["ns1/a"]
            .labels
            .contains_key("__meta_kubernetes_namespace_label_team"));
        d.changed = false;

        // The namespace arrives after its services: both are rebuilt.
        d.handle(Event::Added("ns1".into(), namespace("x")));
        assert!(d.changed);
        for g in d.groups.values() {
            assert_eq!(g.labels["__meta_kubernetes_namespace_label_team"], "x");
        }
        d.changed = false;
        // An update that changes nothing the groups show is no change.
        d.handle(Event::Updated("ns1".into(), namespace("x")));
        assert!(!d.changed);
        d.handle(Event::Updated("ns1".into(), namespace("y")));
        assert!(d.changed);
        assert_eq!(
            d.groups["ns1/b"].labels["__meta_kubernetes_namespace_label_team"],
            "y"
        );

        d.handle(Event::Deleted(Kind::Service, "ns1/a".into()));
        assert_eq!(d.target_groups().len(), 1);
        assert!(!d.dependents[&(Kind::Namespace, "ns1".to_string())].contains("ns1/a"));
        d.handle(Event::Deleted(Kind::Namespace, "ns1".into()));
        assert!(!d.groups["ns1/b"]
            .labels
            .contains_key("__meta_kubernetes_namespace_label_team"));
    }

    #[test]
    fn without_attach_metadata_namespaces_are_not_looked_up() {
        let c = cfg("role: service");
        let mut d = Discoverer::new(&c, KubernetesRole::Service);
        d.handle(Event::Added("ns1/a".into(), svc("a", 80)));
        assert!(d.dependents.is_empty());
        assert_eq!(d.groups["ns1/a"].source, "svc/ns1/a");
    }

    #[test]
    fn a_node_without_address_keeps_its_previous_group() {
        let c = cfg("role: node");
        let mut d = Discoverer::new(&c, KubernetesRole::Node);
        let with = |addr: serde_json::Value| {
            Object::Node(Arc::new(object(json!({
                "metadata": {"name": "n1"},
                "status": {"addresses": addr, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}},
            }))))
        };
        d.handle(Event::Added(
            "n1".into(),
            with(json!([{"type": "InternalIP", "address": "10.1.1.1"}])),
        ));
        assert_eq!(d.groups["n1"].targets[0]["__address__"], "10.1.1.1:10250");
        d.changed = false;
        d.handle(Event::Updated("n1".into(), with(json!([]))));
        assert!(!d.changed);
        assert_eq!(d.groups["n1"].targets[0]["__address__"], "10.1.1.1:10250");
        d.handle(Event::Deleted(Kind::Node, "n1".into()));
        assert!(d.groups.is_empty() && d.changed);
    }

    #[test]
    fn namespaces_to_watch() {
        let sd = |yaml: &str| {
            KubernetesSd::new(&cfg(&format!("api_server: http://127.0.0.1:1\n{yaml}"))).unwrap()
        };
        assert_eq!(sd("role: service").namespaces(), [None]);
        assert_eq!(
            sd("role: service\nnamespaces: {names: [b, a, b]}").namespaces(),
            [Some("a".to_string()), Some("b".to_string())]
        );
        let s = sd("role: ingress\nnamespaces: {names: [x]}\nselectors: [{role: ingress, label: 'a=b', field: 'metadata.name=i'}]\nattach_metadata: {namespace: true}");
        let w = s.watched();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].kind, Kind::Ingress);
        assert_eq!(w[0].namespace.as_deref(), Some("x"));
        assert_eq!(
            (w[0].label_selector.as_str(), w[0].field_selector.as_str()),
            ("a=b", "metadata.name=i")
        );
        assert_eq!(
            (w[1].kind, w[1].namespace.as_deref()),
            (Kind::Namespace, None)
        );
        assert_eq!(w[1].label_selector, "");
    }
}
