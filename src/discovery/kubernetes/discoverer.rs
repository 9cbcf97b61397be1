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
use super::kind::{key, Kind, Object};
use super::lookup::{Attach, Lookup};
use super::metrics::{count_event, EventType};
use super::objects::{Job, Namespace, Node, Pod, ReplicaSet, Service};
use super::reflector::{Event, Reflector, Timing, Watched};
use super::{endpoints, endpointslice, ingress, node, pod, service};
use crate::config::kubernetes_sd::AttachMetadata;
use crate::config::{KubernetesRole, KubernetesSdConfig};
use crate::discovery::TargetGroup;

/// The kind whose objects become `role`'s groups.
fn primary(role: KubernetesRole) -> Kind {
    match role {
        KubernetesRole::Node => Kind::Node,
        KubernetesRole::Service => Kind::Service,
        KubernetesRole::Ingress => Kind::Ingress,
        KubernetesRole::Pod => Kind::Pod,
        KubernetesRole::Endpoints => Kind::Endpoints,
        KubernetesRole::EndpointSlice => Kind::EndpointSlice,
    }
}

/// The kinds `role` watches, each with the role whose selector filters it
/// (`None`: never filtered, as in Prometheus). Metadata attached from
/// nodes, namespaces and a pod's owners adds their kinds.
fn watched_kinds(role: KubernetesRole, attach: Attach) -> Vec<(Kind, Option<KubernetesRole>)> {
    use KubernetesRole as R;
    let mut kinds = vec![(primary(role), Some(role))];
    let pods = matches!(role, R::Pod | R::Endpoints | R::EndpointSlice);
    if matches!(role, R::Endpoints | R::EndpointSlice) {
        kinds.push((Kind::Service, Some(R::Service)));
        kinds.push((Kind::Pod, Some(R::Pod)));
    }
    if attach.node && pods {
        kinds.push((Kind::Node, Some(R::Node)));
    }
    if attach.namespace && role != R::Node {
        kinds.push((Kind::Namespace, None));
    }
    if attach.deployment && pods {
        kinds.push((Kind::ReplicaSet, None));
    }
    if (attach.job || attach.cronjob) && pods {
        kinds.push((Kind::Job, None));
    }
    kinds
}

/// Which role's event counter an event of `kind` goes to, as Prometheus
/// counts them: the role's own kind always; in the endpoints roles also
/// services, and for role endpoints pod updates; never attached nodes,
/// namespaces or owners.
fn counted_as(role: KubernetesRole, kind: Kind, event: EventType) -> Option<KubernetesRole> {
    use KubernetesRole as R;
    match (role, kind) {
        _ if kind == primary(role) => Some(role),
        (R::Endpoints | R::EndpointSlice, Kind::Service) => Some(R::Service),
        (R::Endpoints, Kind::Pod) if event == EventType::Update => Some(R::Pod),
        _ => None,
    }
}

/// `attach_metadata:` as the builders take it.
fn attach(a: &AttachMetadata) -> Attach {
    Attach {
        node: a.node,
        namespace: a.namespace,
        deployment: a.deployment,
        job: a.job,
        cronjob: a.cronjob,
    }
}

/// The objects every reflector of one entry has reported, by kind and key.
#[derive(Default)]
struct Stores(HashMap<Kind, HashMap<String, Object>>);

impl Stores {
    fn insert(&mut self, key: String, object: Object) {
        self.0.entry(object.kind()).or_default().insert(key, object);
    }

    fn remove(&mut self, kind: Kind, key: &str) {
        if let Some(m) = self.0.get_mut(&kind) {
            m.remove(key);
        }
    }

    fn get(&self, kind: Kind, key: &str) -> Option<&Object> {
        self.0.get(&kind)?.get(key)
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

    fn find(&self, kind: Kind, namespace: &str, name: &str) -> Option<&'a Object> {
        let k = key(namespace, name);
        let found = self.stores.get(kind, &k);
        self.seen.borrow_mut().push((kind, k));
        found
    }
}

impl Lookup for Recorder<'_> {
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        match self.find(Kind::Pod, namespace, name)? {
            Object::Pod(p) => Some(p),
            _ => None,
        }
    }

    fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        match self.find(Kind::Service, namespace, name)? {
            Object::Service(s) => Some(s),
            _ => None,
        }
    }

    fn node(&self, name: &str) -> Option<&Node> {
        match self.find(Kind::Node, "", name)? {
            Object::Node(n) => Some(n),
            _ => None,
        }
    }

    fn namespace(&self, name: &str) -> Option<&Namespace> {
        match self.find(Kind::Namespace, "", name)? {
            Object::Namespace(n) => Some(n),
            _ => None,
        }
    }

    fn replica_set(&self, namespace: &str, name: &str) -> Option<&ReplicaSet> {
        match self.find(Kind::ReplicaSet, namespace, name)? {
            Object::ReplicaSet(r) => Some(r),
            _ => None,
        }
    }

    fn job(&self, namespace: &str, name: &str) -> Option<&Job> {
        match self.find(Kind::Job, namespace, name)? {
            Object::Job(j) => Some(j),
            _ => None,
        }
    }
}

/// The groups of one entry and what they were built from.
struct Discoverer {
    role: KubernetesRole,
    attach: Attach,
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
    fn new(role: KubernetesRole, attach: Attach) -> Self {
        Discoverer {
            role,
            attach,
            stores: Stores::default(),
            groups: BTreeMap::new(),
            dependents: HashMap::new(),
            looked_up: HashMap::new(),
            changed: false,
        }
    }

    /// The group of primary object `key`, and what building it looked up:
    /// `None` when the object is gone; `Some(None)` when its builder
    /// declines it (a node without a usable address), which keeps the
    /// previous group, as Prometheus does.
    fn build(&self, key: &str) -> (Option<Option<TargetGroup>>, Vec<(Kind, String)>) {
        let rec = Recorder::new(&self.stores);
        let namespace_of = |ns: &str| {
            if self.attach.namespace {
                rec.namespace(ns)
            } else {
                None
            }
        };
        let group = self.stores.get(primary(self.role), key).map(|o| match o {
            Object::Node(n) => node::target_group(n),
            Object::Service(s) => Some(service::target_group(
                s,
                namespace_of(&s.metadata.namespace),
            )),
            Object::Ingress(i) => Some(ingress::target_group(
                i,
                namespace_of(&i.metadata.namespace),
            )),
            Object::Pod(p) => Some(pod::target_group(p, &rec, self.attach)),
            Object::Endpoints(e) => Some(endpoints::target_group(e, &rec, self.attach)),
            Object::EndpointSlice(e) => Some(endpointslice::target_group(e, &rec, self.attach)),
            // Never a role's own kind.
            Object::Namespace(_) | Object::ReplicaSet(_) | Object::Job(_) => None,
        });
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
        if kind == primary(self.role) {
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
        let mut out = Vec::new();
        for (kind, selector_role) in watched_kinds(self.role, attach(&self.cfg.attach_metadata)) {
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
        let mut d = Discoverer::new(self.role, attach(&self.cfg.attach_metadata));
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
        let all = Attach {
            node: true,
            namespace: true,
            deployment: true,
            job: true,
            cronjob: false,
        };
        assert_eq!(watched_kinds(R::Node, all), [(Kind::Node, Some(R::Node))]);
        assert_eq!(
            watched_kinds(R::Service, all),
            [(Kind::Service, Some(R::Service)), (Kind::Namespace, None)]
        );
        assert_eq!(
            watched_kinds(R::Ingress, Attach::default()),
            [(Kind::Ingress, Some(R::Ingress))]
        );
        assert_eq!(
            watched_kinds(R::Pod, Attach::default()),
            [(Kind::Pod, Some(R::Pod))]
        );
        assert_eq!(
            watched_kinds(R::EndpointSlice, all),
            [
                (Kind::EndpointSlice, Some(R::EndpointSlice)),
                (Kind::Service, Some(R::Service)),
                (Kind::Pod, Some(R::Pod)),
                (Kind::Node, Some(R::Node)),
                (Kind::Namespace, None),
                (Kind::ReplicaSet, None),
                (Kind::Job, None),
            ]
        );
    }

    #[test]
    fn events_are_counted_under_prometheus_roles() {
        use EventType::*;
        use KubernetesRole as R;
        assert_eq!(counted_as(R::Pod, Kind::Pod, Add), Some(R::Pod));
        assert_eq!(counted_as(R::Pod, Kind::Node, Update), None);
        assert_eq!(
            counted_as(R::Endpoints, Kind::Service, Delete),
            Some(R::Service)
        );
        assert_eq!(counted_as(R::Endpoints, Kind::Pod, Update), Some(R::Pod));
        assert_eq!(counted_as(R::Endpoints, Kind::Pod, Add), None);
        assert_eq!(counted_as(R::EndpointSlice, Kind::Pod, Update), None);
        assert_eq!(counted_as(R::Service, Kind::Namespace, Update), None);
    }

    fn pod(name: &str, ip: &str, ready: &str) -> Object {
        Object::Pod(Arc::new(object(json!({
            "metadata": {"name": name, "namespace": "ns1", "uid": "u"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": ip, "phase": "Running", "conditions": [{"type": "Ready", "status": ready}]},
        }))))
    }

    fn endpoints(pods: &[&str]) -> Object {
        let addresses: Vec<serde_json::Value> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| json!({"ip": format!("10.2.0.{i}"), "targetRef": {"kind": "Pod", "namespace": "ns1", "name": p}}))
            .collect();
        Object::Endpoints(Arc::new(object(json!({
            "metadata": {"name": "web", "namespace": "ns1"},
            "subsets": [{"addresses": addresses, "ports": [{"name": "http", "port": 8080}]}],
        }))))
    }

    #[test]
    fn endpoints_follow_their_service_and_pods() {
        let mut d = Discoverer::new(KubernetesRole::Endpoints, Attach::default());
        d.handle(Event::Added("ns1/web".into(), endpoints(&["p0"])));
        let g = &d.groups["ns1/web"];
        assert_eq!(g.source, "endpoints/ns1/web");
        assert!(!g.labels.contains_key("__meta_kubernetes_service_name"));
        assert!(!g.targets[0].contains_key("__meta_kubernetes_pod_name"));

        // The service and the pod arrive later: the group is rebuilt.
        d.handle(Event::Added("ns1/web".into(), svc("web", 8080)));
        assert_eq!(
            d.groups["ns1/web"].labels["__meta_kubernetes_service_name"],
            "web"
        );
        d.handle(Event::Added("ns1/p0".into(), pod("p0", "10.2.0.0", "True")));
        assert_eq!(
            d.groups["ns1/web"].targets[0]["__meta_kubernetes_pod_name"],
            "p0"
        );
        assert_eq!(
            d.groups["ns1/web"].targets[0]["__meta_kubernetes_pod_ready"],
            "true"
        );

        // A pod that is not behind the endpoints changes nothing.
        d.changed = false;
        d.handle(Event::Added(
            "ns1/other".into(),
            pod("other", "10.2.9.9", "True"),
        ));
        assert!(!d.changed);
        assert!(!d
            .dependents
            .contains_key(&(Kind::Pod, "ns1/other".to_string())));
        // The backing pod becoming not ready does.
        d.handle(Event::Updated(
            "ns1/p0".into(),
            pod("p0", "10.2.0.0", "False"),
        ));
        assert!(d.changed);
        assert_eq!(
            d.groups["ns1/web"].targets[0]["__meta_kubernetes_pod_ready"],
            "false"
        );
    }

    #[test]
    fn pods_with_node_metadata_wait_for_their_node() {
        let a = Attach {
            node: true,
            ..Attach::default()
        };
        let mut d = Discoverer::new(KubernetesRole::Pod, a);
        d.handle(Event::Added("ns1/p".into(), pod("p", "10.2.0.5", "True")));
        assert!(d.groups["ns1/p"].targets.is_empty(), "node not known yet");
        let node = Object::Node(Arc::new(object(json!({
            "metadata": {"name": "n1", "labels": {"zone": "a"}},
        }))));
        d.handle(Event::Added("n1".into(), node));
        let g = &d.groups["ns1/p"];
        assert_eq!(g.targets[0]["__address__"], "10.2.0.5:8080");
        assert_eq!(g.labels["__meta_kubernetes_node_label_zone"], "a");
    }

    #[test]
    fn attached_namespace_changes_rebuild_only_its_groups() {
        let c = cfg("role: service\nattach_metadata: {namespace: true}");
        let mut d = Discoverer::new(KubernetesRole::Service, attach(&c.attach_metadata));
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
        let mut d = Discoverer::new(KubernetesRole::Service, attach(&c.attach_metadata));
        d.handle(Event::Added("ns1/a".into(), svc("a", 80)));
        assert!(d.dependents.is_empty());
        assert_eq!(d.groups["ns1/a"].source, "svc/ns1/a");
    }

    #[test]
    fn a_node_without_address_keeps_its_previous_group() {
        let c = cfg("role: node");
        let mut d = Discoverer::new(KubernetesRole::Node, attach(&c.attach_metadata));
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
        // In-cluster with `own_namespace`: the pod's namespace is added.
        let c = cfg("role: pod\nnamespaces: {own_namespace: true, names: [a]}");
        let mut access =
            Access::from_config(&cfg("role: pod\napi_server: http://127.0.0.1:1")).unwrap();
        access.own_namespace = Some("monitoring".to_string());
        let own = KubernetesSd {
            cfg: c,
            role: KubernetesRole::Pod,
            client: Arc::new(ApiClient::new(access).unwrap()),
            timing: Timing::default(),
        };
        assert_eq!(
            own.namespaces(),
            [Some("a".to_string()), Some("monitoring".to_string())]
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
