//! Role `pod`: one group per pod, one target per declared container port
//! (`<pod IP>:<port>`) and one portless target (`<pod IP>`) per container
//! declaring none, init containers included. Also home of the pod labels
//! the endpoints roles attach to addresses backed by a pod.

use std::collections::BTreeMap;

use super::deleted;
use super::labels::{add_object_meta, join_host_port, meta_label, NAMESPACE_LABEL};
use super::lookup::{add_namespace_meta_of, add_node_meta, Attach, Lookup};
use super::objects::{Container, ContainerPort, Pod};
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// The group of `pod`, source `pod/<namespace>/<name>`. Empty (as for a
/// deleted pod) while the pod has no IP, and, with `attach.node`, while its
/// node is not in the store: node selectors filter pods that way.
pub(crate) fn target_group(pod: &Pod, lookup: &dyn Lookup, attach: Attach) -> TargetGroup {
    let meta = &pod.metadata;
    let source = format!("pod/{}/{}", meta.namespace, meta.name);
    let ip = &pod.status.pod_ip;
    if ip.is_empty() || (attach.node && lookup.node(&pod.spec.node_name).is_none()) {
        return deleted(source);
    }

    let mut labels = pod_labels(pod, lookup, attach);
    labels.insert(NAMESPACE_LABEL.to_string(), meta.namespace.clone());
    if attach.node {
        add_node_meta(&mut labels, lookup, &pod.spec.node_name);
    }
    if attach.namespace {
        add_namespace_meta_of(&mut labels, lookup, &meta.namespace);
    }

    let mut targets = Vec::new();
    for (container, init) in containers(pod) {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let id = statuses
            .iter()
            .find(|s| s.name == container.name)
            .map_or("", |s| s.container_id.as_str());
        let mut base = container_labels(container, init);
        base.insert(meta_label("pod_container_id"), id.to_string());
        if container.ports.is_empty() {
            // Nothing says where to scrape: the user's relabeling has to
            // add a port to the bare IP.
            base.insert(ADDRESS_LABEL.to_string(), ip.clone());
            targets.push(base);
            continue;
        }
        for port in &container.ports {
            let mut target = base.clone();
            add_port_labels(&mut target, port, &port.protocol);
            target.insert(
                ADDRESS_LABEL.to_string(),
                join_host_port(ip, port.container_port),
            );
            targets.push(target);
        }
    }

    TargetGroup {
        source,
        targets,
        labels,
    }
}

/// The labels describing `pod` itself (`pod_name`, `_ip`, `_ready`,
/// `_phase`, `_node_name`, `_host_ip`, `_uid`, labels, annotations, its
/// controller and, as `attach` asks, its Deployment, Job or CronJob),
/// without its namespace: the roles put that at different levels.
pub(super) fn pod_labels(
    pod: &Pod,
    lookup: &dyn Lookup,
    attach: Attach,
) -> BTreeMap<String, String> {
    let meta = &pod.metadata;
    let mut out = BTreeMap::from([
        (meta_label("pod_ip"), pod.status.pod_ip.clone()),
        (meta_label("pod_ready"), ready(pod)),
        (meta_label("pod_phase"), pod.status.phase.clone()),
        (meta_label("pod_node_name"), pod.spec.node_name.clone()),
        (meta_label("pod_host_ip"), pod.status.host_ip.clone()),
        (meta_label("pod_uid"), meta.uid.clone()),
    ]);
    add_object_meta(&mut out, meta, "pod");

    let Some(owner) = meta.controller() else {
        return out;
    };
    if !owner.kind.is_empty() {
        out.insert(meta_label("pod_controller_kind"), owner.kind.clone());
    }
    if !owner.name.is_empty() {
        out.insert(meta_label("pod_controller_name"), owner.name.clone());
    }
    match owner.kind.as_str() {
        // A Deployment's pods belong to one of its ReplicaSets.
        "ReplicaSet" if attach.deployment => {
            let deployment = lookup
                .replica_set(&meta.namespace, &owner.name)
                .and_then(|rs| rs.metadata.controller())
                .filter(|o| o.kind == "Deployment");
            if let Some(d) = deployment {
                out.insert(meta_label("pod_deployment_name"), d.name.clone());
            }
        }
        "Job" => {
            if attach.job {
                out.insert(meta_label("pod_job_name"), owner.name.clone());
            }
            // A CronJob's pods belong to one of the Jobs it started.
            let cronjob = || {
                lookup
                    .job(&meta.namespace, &owner.name)?
                    .metadata
                    .controller()
                    .filter(|o| o.kind == "CronJob")
            };
            if let Some(c) = attach.cronjob.then(cronjob).flatten() {
                out.insert(meta_label("pod_cronjob_name"), c.name.clone());
            }
        }
        _ => {}
    }
    out
}

/// The pod's containers then its init containers, each with whether it is
/// an init container: the order Prometheus lists their targets in.
pub(super) fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let spec = &pod.spec;
    let regular = spec.containers.iter().map(|c| (c, false));
    regular.chain(spec.init_containers.iter().map(|c| (c, true)))
}

/// The `pod_container_*` labels naming `container`.
pub(super) fn container_labels(container: &Container, init: bool) -> BTreeMap<String, String> {
    BTreeMap::from([
        (meta_label("pod_container_name"), container.name.clone()),
        (meta_label("pod_container_image"), container.image.clone()),
        (meta_label("pod_container_init"), init.to_string()),
    ])
}

/// Adds the `pod_container_port_*` labels of `port`. `protocol` is the
/// port's own, except where the endpoints role labels a port matched by an
/// endpoint port with the latter's protocol.
pub(super) fn add_port_labels(
    out: &mut BTreeMap<String, String>,
    port: &ContainerPort,
    protocol: &str,
) {
    out.extend([
        (meta_label("pod_container_port_name"), port.name.clone()),
        (
            meta_label("pod_container_port_number"),
            port.container_port.to_string(),
        ),
        (
            meta_label("pod_container_port_protocol"),
            protocol.to_string(),
        ),
    ]);
}

/// The status of the pod's `Ready` condition, lower-cased; `unknown` when
/// the pod reports none.
fn ready(pod: &Pod) -> String {
    pod.status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map_or_else(|| "unknown".to_string(), |c| c.status.to_lowercase())
}

#[cfg(test)]
mod tests {
    //! Upstream's pod cases (Prometheus `discovery/kubernetes/pod_test.go`),
    //! each reduced to the stores' state after its events → the group
    //! Prometheus last sent. What only the watcher decides (which
    //! namespaces are listed, which objects the selectors let through) is
    //! left to the discoverer's tests; what remains of those cases here is
    //! the group of each object that got through.

    use serde_json::{json, Value};

    use super::super::test_support::{
        group, namespace, namespace_store, node, object, with_labels, Store, ATTACH_NAMESPACE,
        ATTACH_NODE, ATTACH_NONE,
    };
    use super::*;

    /// Upstream's `makePods`: `testpod` in `ns`, one container with one
    /// TCP port 9000, running and ready.
    fn pod_json(ns: &str) -> Value {
        json!({
            "metadata": {"name": "testpod", "namespace": ns, "uid": "abc123"},
            "spec": {
                "nodeName": "testnode",
                "containers": [{
                    "name": "testcontainer",
                    "image": "testcontainer:latest",
                    "ports": [{"name": "testport", "protocol": "TCP", "containerPort": 9000}],
                }],
            },
            "status": {
                "podIP": "1.2.3.4",
                "hostIP": "2.3.4.5",
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "testcontainer", "containerID": "docker://a1b2c3d4e5f6"},
                ],
            },
        })
    }

    fn pod(ns: &str) -> Pod {
        object(pod_json(ns))
    }

    /// The target of `pod(_)`'s one port.
    const TESTCONTAINER_TARGET: [(&str, &str); 8] = [
        ("__address__", "1.2.3.4:9000"),
        ("__meta_kubernetes_pod_container_name", "testcontainer"),
        (
            "__meta_kubernetes_pod_container_image",
            "testcontainer:latest",
        ),
        ("__meta_kubernetes_pod_container_port_name", "testport"),
        ("__meta_kubernetes_pod_container_port_number", "9000"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_container_init", "false"),
        (
            "__meta_kubernetes_pod_container_id",
            "docker://a1b2c3d4e5f6",
        ),
    ];

    /// Upstream's `expectedPodTargetGroups`.
    fn expected(ns: &str) -> TargetGroup {
        group(
            &format!("pod/{ns}/testpod"),
            &[&TESTCONTAINER_TARGET],
            &[
                ("__meta_kubernetes_pod_name", "testpod"),
                ("__meta_kubernetes_namespace", ns),
                ("__meta_kubernetes_pod_node_name", "testnode"),
                ("__meta_kubernetes_pod_ip", "1.2.3.4"),
                ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
                ("__meta_kubernetes_pod_ready", "true"),
                ("__meta_kubernetes_pod_phase", "Running"),
                ("__meta_kubernetes_pod_uid", "abc123"),
            ],
        )
    }

    #[test]
    fn pod_discovery_before_run() {
        let multi: Pod = object(json!({
            "metadata": {
                "name": "testpod",
                "namespace": "default",
                "labels": {"test/label": "testvalue"},
                "annotations": {"test/annotation": "testannotationvalue"},
                "uid": "abc123",
                "ownerReferences": [{
                    "kind": "testcontrollerkind",
                    "name": "testcontrollername",
                    "controller": true,
                }],
            },
            "spec": {
                "nodeName": "testnode",
                "containers": [
                    {
                        "name": "testcontainer0",
                        "image": "testcontainer0:latest",
                        "ports": [
                            {"name": "testport0", "protocol": "TCP", "containerPort": 9000},
                            {"name": "testport1", "protocol": "UDP", "containerPort": 9001},
                        ],
                    },
                    {"name": "testcontainer1", "image": "testcontainer1:latest"},
                ],
            },
            "status": {
                "podIP": "1.2.3.4",
                "hostIP": "2.3.4.5",
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "testcontainer0", "containerID": "docker://a1b2c3d4e5f6"},
                    {"name": "testcontainer1", "containerID": "containerd://6f5e4d3c2b1a"},
                ],
            },
        }));
        let want = group(
            "pod/default/testpod",
            &[
                &[
                    ("__address__", "1.2.3.4:9000"),
                    ("__meta_kubernetes_pod_container_name", "testcontainer0"),
                    (
                        "__meta_kubernetes_pod_container_image",
                        "testcontainer0:latest",
                    ),
                    ("__meta_kubernetes_pod_container_port_name", "testport0"),
                    ("__meta_kubernetes_pod_container_port_number", "9000"),
                    ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
                    ("__meta_kubernetes_pod_container_init", "false"),
                    (
                        "__meta_kubernetes_pod_container_id",
                        "docker://a1b2c3d4e5f6",
                    ),
                ],
                &[
                    ("__address__", "1.2.3.4:9001"),
                    ("__meta_kubernetes_pod_container_name", "testcontainer0"),
                    (
                        "__meta_kubernetes_pod_container_image",
                        "testcontainer0:latest",
                    ),
                    ("__meta_kubernetes_pod_container_port_name", "testport1"),
                    ("__meta_kubernetes_pod_container_port_number", "9001"),
                    ("__meta_kubernetes_pod_container_port_protocol", "UDP"),
                    ("__meta_kubernetes_pod_container_init", "false"),
                    (
                        "__meta_kubernetes_pod_container_id",
                        "docker://a1b2c3d4e5f6",
                    ),
                ],
                &[
                    ("__address__", "1.2.3.4"),
                    ("__meta_kubernetes_pod_container_name", "testcontainer1"),
                    (
                        "__meta_kubernetes_pod_container_image",
                        "testcontainer1:latest",
                    ),
                    ("__meta_kubernetes_pod_container_init", "false"),
                    (
                        "__meta_kubernetes_pod_container_id",
                        "containerd://6f5e4d3c2b1a",
                    ),
                ],
            ],
            &[
                ("__meta_kubernetes_pod_name", "testpod"),
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_pod_label_test_label", "testvalue"),
                ("__meta_kubernetes_pod_labelpresent_test_label", "true"),
                (
                    "__meta_kubernetes_pod_annotation_test_annotation",
                    "testannotationvalue",
                ),
                (
                    "__meta_kubernetes_pod_annotationpresent_test_annotation",
                    "true",
                ),
                ("__meta_kubernetes_pod_node_name", "testnode"),
                ("__meta_kubernetes_pod_ip", "1.2.3.4"),
                ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
                ("__meta_kubernetes_pod_ready", "true"),
                ("__meta_kubernetes_pod_phase", "Running"),
                ("__meta_kubernetes_pod_uid", "abc123"),
                (
                    "__meta_kubernetes_pod_controller_kind",
                    "testcontrollerkind",
                ),
                (
                    "__meta_kubernetes_pod_controller_name",
                    "testcontrollername",
                ),
            ],
        );
        assert_eq!(target_group(&multi, &Store::default(), ATTACH_NONE), want);
    }

    #[test]
    fn pod_discovery_init_container() {
        let mut json = pod_json("default");
        json["spec"]["initContainers"] =
            json!([{"name": "initcontainer", "image": "initcontainer:latest"}]);
        json["status"]["phase"] = json!("Pending");
        json["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        json["status"]["initContainerStatuses"] =
            json!([{"name": "initcontainer", "containerID": "containerd://6f5e4d3c2b1a"}]);
        let mut want = with_labels(
            expected("default"),
            &[
                ("__meta_kubernetes_pod_phase", "Pending"),
                ("__meta_kubernetes_pod_ready", "false"),
            ],
        );
        want.targets.push(
            [
                ("__address__", "1.2.3.4"),
                ("__meta_kubernetes_pod_container_name", "initcontainer"),
                (
                    "__meta_kubernetes_pod_container_image",
                    "initcontainer:latest",
                ),
                ("__meta_kubernetes_pod_container_init", "true"),
                (
                    "__meta_kubernetes_pod_container_id",
                    "containerd://6f5e4d3c2b1a",
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let got = target_group(&object(json), &Store::default(), ATTACH_NONE);
        assert_eq!(got, want);
    }

    #[test]
    fn pod_discovery_add() {
        let got = target_group(&pod("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(got, expected("default"));
    }

    #[test]
    fn pod_discovery_delete() {
        let before = target_group(&pod("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(
            deleted(before.source),
            group("pod/default/testpod", &[], &[])
        );
    }

    #[test]
    fn pod_discovery_update() {
        // Before: another UID, no phase, no conditions, no statuses.
        let before: Pod = object(json!({
            "metadata": {"name": "testpod", "namespace": "default", "uid": "xyz321"},
            "spec": {
                "nodeName": "testnode",
                "containers": [{
                    "name": "testcontainer",
                    "image": "testcontainer:latest",
                    "ports": [{"name": "testport", "protocol": "TCP", "containerPort": 9000}],
                }],
            },
            "status": {"podIP": "1.2.3.4", "hostIP": "2.3.4.5"},
        }));
        let before = target_group(&before, &Store::default(), ATTACH_NONE);
        assert_eq!(before.labels["__meta_kubernetes_pod_ready"], "unknown");
        assert_eq!(before.labels["__meta_kubernetes_pod_phase"], "");
        assert_eq!(before.targets[0]["__meta_kubernetes_pod_container_id"], "");
        let after = target_group(&pod("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(after.source, before.source);
        assert_eq!(after, expected("default"));
    }

    #[test]
    fn pod_discovery_update_empty_pod_ip() {
        let mut json = pod_json("default");
        json["status"]["podIP"] = json!("");
        let got = target_group(&object(json), &Store::default(), ATTACH_NONE);
        assert_eq!(got, group("pod/default/testpod", &[], &[]));
    }

    #[test]
    fn pod_discovery_namespaces() {
        for ns in ["ns1", "ns2"] {
            assert_eq!(
                target_group(&pod(ns), &Store::default(), ATTACH_NONE),
                expected(ns)
            );
        }
    }

    #[test]
    fn pod_discovery_own_namespace() {
        let got = target_group(&pod("own-ns"), &Store::default(), ATTACH_NONE);
        assert_eq!(got, expected("own-ns"));
    }

    /// The group of `pod("default")` on node `testnode` carrying the one
    /// label `label`, with node metadata attached.
    fn assert_node_metadata(label: (&str, &str)) {
        let store = Store {
            nodes: vec![node("testnode", json!({label.0: label.1}))],
            ..Store::default()
        };
        let name = format!("__meta_kubernetes_node_label_{}", label.0);
        let present = format!("__meta_kubernetes_node_labelpresent_{}", label.0);
        let want = with_labels(
            expected("default"),
            &[
                ("__meta_kubernetes_node_name", "testnode"),
                (&name, label.1),
                (&present, "true"),
            ],
        );
        assert_eq!(target_group(&pod("default"), &store, ATTACH_NODE), want);
    }

    #[test]
    fn pod_discovery_with_node_metadata() {
        assert_node_metadata(("l1", "v1"));
    }

    #[test]
    fn pod_discovery_with_node_metadata_update_node() {
        // The node's labels went from `l1: v1` to `l2: v2`.
        assert_node_metadata(("l2", "v2"));
    }

    #[test]
    fn pod_discovery_with_namespace_metadata() {
        let store = namespace_store(namespace(
            json!({"app": "web", "tier": "frontend"}),
            json!({"maintainer": "devops", "build": "v3.4.5"}),
        ));
        let want = with_labels(
            expected("test-ns"),
            &[
                (
                    "__meta_kubernetes_namespace_annotation_maintainer",
                    "devops",
                ),
                (
                    "__meta_kubernetes_namespace_annotationpresent_maintainer",
                    "true",
                ),
                ("__meta_kubernetes_namespace_annotation_build", "v3.4.5"),
                (
                    "__meta_kubernetes_namespace_annotationpresent_build",
                    "true",
                ),
                ("__meta_kubernetes_namespace_label_app", "web"),
                ("__meta_kubernetes_namespace_labelpresent_app", "true"),
                ("__meta_kubernetes_namespace_label_tier", "frontend"),
                ("__meta_kubernetes_namespace_labelpresent_tier", "true"),
            ],
        );
        let got = target_group(&pod("test-ns"), &store, ATTACH_NAMESPACE);
        assert_eq!(got, want);
    }

    #[test]
    fn pod_discovery_with_updated_namespace_metadata() {
        let store = namespace_store(namespace(
            json!({"app": "service", "tier": "backend", "zone": "us-east"}),
            json!({"maintainer": "sre", "build": "v4.5.6", "deployment": "canary"}),
        ));
        let want = with_labels(
            expected("test-ns"),
            &[
                ("__meta_kubernetes_namespace_annotation_maintainer", "sre"),
                (
                    "__meta_kubernetes_namespace_annotationpresent_maintainer",
                    "true",
                ),
                ("__meta_kubernetes_namespace_annotation_build", "v4.5.6"),
                (
                    "__meta_kubernetes_namespace_annotationpresent_build",
                    "true",
                ),
                (
                    "__meta_kubernetes_namespace_annotation_deployment",
                    "canary",
                ),
                (
                    "__meta_kubernetes_namespace_annotationpresent_deployment",
                    "true",
                ),
                ("__meta_kubernetes_namespace_label_app", "service"),
                ("__meta_kubernetes_namespace_labelpresent_app", "true"),
                ("__meta_kubernetes_namespace_label_tier", "backend"),
                ("__meta_kubernetes_namespace_labelpresent_tier", "true"),
                ("__meta_kubernetes_namespace_label_zone", "us-east"),
                ("__meta_kubernetes_namespace_labelpresent_zone", "true"),
            ],
        );
        let got = target_group(&pod("test-ns"), &store, ATTACH_NAMESPACE);
        assert_eq!(got, want);
    }

    #[test]
    fn pod_discovery_with_node_selector() {
        // The selector `node-type=worker` left only the worker in the store.
        let store = Store {
            nodes: vec![node("worker-node", json!({"node-type": "worker"}))],
            ..Store::default()
        };
        let on_node = |name: &str, uid: &str, node: &str, ip: &str| -> Pod {
            let mut json = pod_json("default");
            json["metadata"]["name"] = json!(name);
            json["metadata"]["uid"] = json!(uid);
            json["spec"]["nodeName"] = json!(node);
            json["status"]["podIP"] = json!(ip);
            object(json)
        };
        let worker = on_node(
            "pod-on-worker",
            "worker-pod-123",
            "worker-node",
            "192.168.1.1",
        );
        let mut target = TESTCONTAINER_TARGET;
        target[0].1 = "192.168.1.1:9000";
        let want = group(
            "pod/default/pod-on-worker",
            &[&target],
            &[
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_pod_name", "pod-on-worker"),
                ("__meta_kubernetes_pod_ip", "192.168.1.1"),
                ("__meta_kubernetes_pod_ready", "true"),
                ("__meta_kubernetes_pod_phase", "Running"),
                ("__meta_kubernetes_pod_node_name", "worker-node"),
                ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
                ("__meta_kubernetes_pod_uid", "worker-pod-123"),
                ("__meta_kubernetes_node_name", "worker-node"),
                ("__meta_kubernetes_node_label_node_type", "worker"),
                ("__meta_kubernetes_node_labelpresent_node_type", "true"),
            ],
        );
        assert_eq!(target_group(&worker, &store, ATTACH_NODE), want);

        let filtered = on_node(
            "pod-on-filtered-node",
            "filtered-pod-456",
            "filtered-node",
            "192.168.1.2",
        );
        assert_eq!(
            target_group(&filtered, &store, ATTACH_NODE),
            group("pod/default/pod-on-filtered-node", &[], &[])
        );
    }

    /// Upstream's `makeReplicaSetOwnedPod` / `makeJobOwnedPod`: `pod(_)`
    /// with UID `pod123`, controlled by the `kind` called `name`.
    fn owned_pod(kind: &str, name: &str) -> Pod {
        let mut json = pod_json("default");
        json["metadata"]["uid"] = json!("pod123");
        json["metadata"]["ownerReferences"] =
            json!([{"kind": kind, "name": name, "uid": "owner-uid", "controller": true}]);
        object(json)
    }

    /// An object of `name` in `default` with the given labels, controlled
    /// by `owner` (kind, name) if any: a ReplicaSet, Job, … fixture.
    fn owned<T: serde::de::DeserializeOwned>(
        name: &str,
        labels: Value,
        owner: Option<(&str, &str)>,
    ) -> T {
        let owners = match owner {
            Some((kind, name)) => json!([{"kind": kind, "name": name, "controller": true}]),
            None => Value::Null,
        };
        object(json!({
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": labels,
                "ownerReferences": owners,
            },
        }))
    }

    /// `expected("default")` for a pod with UID `pod123` and the extra
    /// group labels given.
    fn expected_owned(extra: &[(&str, &str)]) -> TargetGroup {
        let mut want = with_labels(
            expected("default"),
            &[("__meta_kubernetes_pod_uid", "pod123")],
        );
        want = with_labels(want, extra);
        want
    }

    /// The ReplicaSet of Deployment `testdeployment`. The Deployment itself
    /// is never read: its name comes from the ReplicaSet's owner reference.
    fn deployment_store() -> Store {
        Store {
            replica_sets: vec![owned(
                "testdeployment-rs-abc",
                json!({}),
                Some(("Deployment", "testdeployment")),
            )],
            ..Store::default()
        }
    }

    fn pod_metadata(deployment: bool, job: bool, cronjob: bool) -> Attach {
        Attach {
            deployment,
            job,
            cronjob,
            ..Attach::default()
        }
    }

    const DEPLOYMENT_LABELS: [(&str, &str); 3] = [
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
        (
            "__meta_kubernetes_pod_controller_name",
            "testdeployment-rs-abc",
        ),
        ("__meta_kubernetes_pod_deployment_name", "testdeployment"),
    ];

    #[test]
    fn pod_discovery_with_deployment() {
        let pod = owned_pod("ReplicaSet", "testdeployment-rs-abc");
        let store = deployment_store();
        let got = target_group(&pod, &store, pod_metadata(true, false, false));
        assert_eq!(got, expected_owned(&DEPLOYMENT_LABELS));
        // Without `deployment: true` the ReplicaSet is not followed.
        let got = target_group(&pod, &store, ATTACH_NONE);
        assert_eq!(got, expected_owned(&DEPLOYMENT_LABELS[..2]));
    }

    #[test]
    fn pod_discovery_with_deployment_update() {
        // The Deployment's new labels (`version: v2`, `env: prod`) are not
        // read: the group after the update is the one before it.
        let pod = owned_pod("ReplicaSet", "testdeployment-rs-abc");
        let store = deployment_store();
        let got = target_group(&pod, &store, pod_metadata(true, false, false));
        assert_eq!(got, expected_owned(&DEPLOYMENT_LABELS));
    }

    /// The group of a pod controlled by Job `job` (with `job_labels`),
    /// itself controlled by CronJob `cronjob` if given.
    fn job_pod_group(
        job: &str,
        job_labels: Value,
        cronjob: Option<&str>,
        attach: Attach,
    ) -> TargetGroup {
        let store = Store {
            jobs: vec![owned(job, job_labels, cronjob.map(|c| ("CronJob", c)))],
            ..Store::default()
        };
        target_group(&owned_pod("Job", job), &store, attach)
    }

    /// `expected_owned` for a pod controlled by Job `job`, plus `name`.
    fn expected_job_pod(job: &str, name: (&str, &str)) -> TargetGroup {
        expected_owned(&[
            ("__meta_kubernetes_pod_controller_kind", "Job"),
            ("__meta_kubernetes_pod_controller_name", job),
            name,
        ])
    }

    #[test]
    fn pod_discovery_with_job() {
        let got = job_pod_group("testjob", json!({}), None, pod_metadata(false, true, false));
        let want = expected_job_pod("testjob", ("__meta_kubernetes_pod_job_name", "testjob"));
        assert_eq!(got, want);
    }

    #[test]
    fn pod_discovery_with_cron_job() {
        // Only `job: true`: the Job's name, not its CronJob's.
        let job = "testcronjob-job-abc";
        let attach = pod_metadata(false, true, false);
        let got = job_pod_group(job, json!({}), Some("testcronjob"), attach);
        let want = expected_job_pod(job, ("__meta_kubernetes_pod_job_name", job));
        assert_eq!(got, want);
    }

    #[test]
    fn pod_discovery_with_job_update() {
        // The Job's new labels are not read.
        let labels = json!({"batch": "v2", "priority": "high"});
        let got = job_pod_group("testjob", labels, None, pod_metadata(false, true, false));
        let want = expected_job_pod("testjob", ("__meta_kubernetes_pod_job_name", "testjob"));
        assert_eq!(got, want);
    }

    #[test]
    fn pod_discovery_with_cron_job_update() {
        // Only `cronjob: true`: the CronJob's name, not the Job's; the
        // CronJob's new labels are not read.
        let job = "testcronjob-job-abc";
        let labels = json!({"schedule": "daily", "retention": "7d"});
        let attach = pod_metadata(false, false, true);
        let got = job_pod_group(job, labels, Some("testcronjob"), attach);
        let want = expected_job_pod(job, ("__meta_kubernetes_pod_cronjob_name", "testcronjob"));
        assert_eq!(got, want);
    }

    #[test]
    fn owners_that_are_missing_or_not_controllers_add_nothing() {
        // The ReplicaSet is not in the store (deleted, or not watched).
        let pod = owned_pod("ReplicaSet", "gone");
        let got = target_group(&pod, &Store::default(), pod_metadata(true, true, true));
        assert!(!got
            .labels
            .contains_key("__meta_kubernetes_pod_deployment_name"));
        // An owner without `controller: true` is no controller.
        let mut json = pod_json("default");
        json["metadata"]["ownerReferences"] = json!([{"kind": "ReplicaSet", "name": "rs"}]);
        let got = target_group(&object(json), &Store::default(), ATTACH_NONE);
        assert_eq!(got, expected("default"));
    }

    #[test]
    fn ipv6_pod_addresses_are_bracketed() {
        let mut json = pod_json("default");
        json["status"]["podIP"] = json!("fd00::7");
        let got = target_group(&object(json), &Store::default(), ATTACH_NONE);
        assert_eq!(got.targets[0]["__address__"], "[fd00::7]:9000");
    }

    #[test]
    fn null_and_missing_fields_decode_as_absent() {
        // The API's Go decoder reads `null` as the zero value; so do we.
        let bare: Pod = object(
            json!({"metadata": {"name": "p", "namespace": "n"}, "spec": null, "status": null}),
        );
        assert_eq!(
            target_group(&bare, &Store::default(), ATTACH_NONE),
            group("pod/n/p", &[], &[])
        );
        let nulls: Pod = object(json!({
            "metadata": {"name": "p", "namespace": "n", "ownerReferences": null, "labels": null},
            "spec": {"containers": [{"name": "c", "ports": null}], "initContainers": null},
            "status": {"podIP": "10.0.0.1", "conditions": null, "containerStatuses": null},
        }));
        let got = target_group(&nulls, &Store::default(), ATTACH_NONE);
        assert_eq!(got.targets.len(), 1);
        assert_eq!(got.targets[0]["__address__"], "10.0.0.1");
        assert_eq!(got.labels["__meta_kubernetes_pod_ready"], "unknown");
    }
}
