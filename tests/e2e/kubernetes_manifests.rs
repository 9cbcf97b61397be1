//! The Kubernetes manifests of `deploy/kubernetes/`: valid against the
//! Kubernetes API's own schemas, and wired the way ferroprom needs them.
//!
//! - Schemas: `kubernetes-validate` (PyPI; it bundles the OpenAPI schemas
//!   of each Kubernetes release, so it works offline) in strict mode, which
//!   rejects unknown fields, for the oldest and newest release we support.
//!   `.ci/run` installs it; missing, the test fails in CI and is skipped
//!   elsewhere, as the other peers.
//! - Our own rules, read from the YAML: the kustomization lists every
//!   manifest; the RBAC grants exactly what the ConfigMap's discovery roles
//!   and scrape jobs need; the StatefulSet's flags, mounts, environment,
//!   probes and Services fit together; the ConfigMap keeps every job of
//!   upstream's Kubernetes example; the Dockerfile runs as the pod does;
//!   resources match the documented sizing.
//! - The real thing: the ConfigMap's `prometheus.yml` loads with
//!   ferroprom's loader, and each replica, run as the binary with it and
//!   the container's flags and environment, answers its probes with its
//!   own `replica` external label. (Needs `kubernetes_sd_configs` in the
//!   config loader.)

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

use common::{peers, workspace_file, Server};

/// Oldest and newest Kubernetes release the manifests must validate
/// against (the oldest still served by the big providers' extended
/// support; the newest `kubernetes-validate` 1.37.0 knows).
const KUBERNETES_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];

/// Where the service account's token and CA are mounted in every pod.
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const SA_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

fn dir() -> PathBuf {
    workspace_file("deploy/kubernetes")
}

/// Every manifest file: the YAML files of the folder but the
/// kustomization, sorted.
fn manifest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && p.file_name().unwrap() != "kustomization.yaml"
        })
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

/// The documents of a YAML file.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every object of every manifest.
fn objects() -> Vec<Value> {
    manifest_files().iter().flat_map(|p| documents(p)).collect()
}

/// The one object of `kind` named `name`.
fn object(objects: &[Value], kind: &str, name: &str) -> Value {
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "want one {kind} {name}");
    found[0].clone()
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or(&[])
}

fn strings(v: &Value) -> BTreeSet<String> {
    seq(v).iter().map(|s| str_of(s).to_string()).collect()
}

/// The ConfigMap's `prometheus.yml`, as text.
fn config_text(objects: &[Value]) -> String {
    let cm = object(objects, "ConfigMap", "ferroprom-config");
    str_of(&cm["data"]["prometheus.yml"]).to_string()
}

fn statefulset(objects: &[Value]) -> Value {
    object(objects, "StatefulSet", "ferroprom")
}

/// The StatefulSet's one container.
fn container(sts: &Value) -> Value {
    let containers = seq(&sts["spec"]["template"]["spec"]["containers"]);
    assert_eq!(containers.len(), 1);
    containers[0].clone()
}

/// The container's `--name=value` arguments.
fn flags(c: &Value) -> BTreeMap<String, String> {
    seq(&c["args"])
        .iter()
        .map(|a| {
            let (k, v) = str_of(a)
                .split_once('=')
                .unwrap_or_else(|| panic!("{a:?}: want --flag=value"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn manifests_match_the_kubernetes_api_schemas() {
    let Some(bin) = peers::require("kubernetes-validate") else {
        return;
    };
    let files = manifest_files();
    let count = objects().len();
    for version in KUBERNETES_VERSIONS {
        let out = Command::new(&bin)
            .args(["--strict", "--kubernetes-version", version])
            .args(&files)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // A kind or apiVersion it has no schema for is only a warning to
        // the tool; here it is a failure (a misspelt kind).
        assert!(
            out.status.success() && !text.contains("WARN") && !text.contains("ERROR"),
            "Kubernetes {version}:\n{text}"
        );
        let passed = text.matches(" passed for resource ").count();
        assert_eq!(passed, count, "Kubernetes {version}:\n{text}");
    }
}

#[test]
fn kustomization_lists_every_manifest_and_the_image() {
    let k = &documents(&dir().join("kustomization.yaml"))[0];
    let listed = strings(&k["resources"]);
    let files: BTreeSet<String> = manifest_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, files);
    let objects = objects();
    let image = str_of(&container(&statefulset(&objects))["image"]).to_string();
    let name = image.split(':').next().unwrap();
    assert!(
        seq(&k["images"]).iter().any(|i| i["name"] == name),
        "kustomization images should name {name}"
    );
}

/// The API objects (group, resource) a `kubernetes_sd_configs` role lists
/// and watches, as Prometheus's discovery reads them.
fn resources_of_role(role: &str) -> &'static [(&'static str, &'static str)] {
    match role {
        "node" => &[("", "nodes")],
        "service" => &[("", "services")],
        "pod" => &[("", "pods")],
        "endpoints" => &[("", "endpoints"), ("", "services"), ("", "pods")],
        "endpointslice" => &[
            ("discovery.k8s.io", "endpointslices"),
            ("", "services"),
            ("", "pods"),
        ],
        "ingress" => &[("networking.k8s.io", "ingresses")],
        other => panic!("unknown role {other:?}"),
    }
}

/// (group, resource or non-resource URL) → verbs, from a ClusterRole.
fn grants(role: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in seq(&role["rules"]) {
        let verbs = strings(&rule["verbs"]);
        let mut keys = Vec::new();
        for g in seq(&rule["apiGroups"]) {
            for r in seq(&rule["resources"]) {
                keys.push((str_of(g).to_string(), str_of(r).to_string()));
            }
        }
        for url in seq(&rule["nonResourceURLs"]) {
            keys.push(("url".to_string(), str_of(url).to_string()));
        }
        for k in keys {
            out.entry(k).or_default().extend(verbs.iter().cloned());
        }
    }
    out
}

/// What the scrape jobs and discovery of `config` (prometheus.yml as YAML)
/// need from the API server.
fn needed_grants(config: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let read: BTreeSet<String> = ["get", "list", "watch"].map(String::from).into();
    let get: BTreeSet<String> = ["get".to_string()].into();
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for job in seq(&config["scrape_configs"]) {
        let with_token = job["authorization"]["credentials_file"] == SA_TOKEN;
        for sd in seq(&job["kubernetes_sd_configs"]) {
            let role = str_of(&sd["role"]);
            for (g, r) in resources_of_role(role) {
                out.insert((g.to_string(), r.to_string()), read.clone());
            }
            if sd["attach_metadata"]["node"] == true {
                out.insert((String::new(), "nodes".into()), read.clone());
            }
            if sd["attach_metadata"]["namespace"] == true {
                out.insert((String::new(), "namespaces".into()), read.clone());
            }
            // Scraping with the service account's token: kubelets
            // authorize it as nodes/metrics, API servers as the URL.
            if with_token && role == "node" {
                out.insert((String::new(), "nodes/metrics".into()), get.clone());
            }
            if with_token && role == "endpoints" {
                let path = job["metrics_path"].as_str().unwrap_or("/metrics");
                out.insert(("url".into(), path.to_string()), get.clone());
            }
        }
    }
    out
}

#[test]
fn rbac_grants_exactly_what_discovery_and_scraping_need() {
    let objects = objects();
    let config: Value = serde_yaml_ng::from_str(&config_text(&objects)).unwrap();
    let role = object(&objects, "ClusterRole", "ferroprom");
    let mut needed = needed_grants(&config);
    // Every role of the example is used, so the whole list is needed...
    for r in ["node", "service", "pod", "endpoints", "ingress"] {
        assert!(
            seq(&config["scrape_configs"])
                .iter()
                .any(|j| seq(&j["kubernetes_sd_configs"])
                    .iter()
                    .any(|s| s["role"] == r)),
            "no job uses role {r}"
        );
    }
    // ...and endpointslice and namespaces too: switching a job to the
    // endpointslice role or to `attach_metadata: {namespace: true}` must
    // not need an RBAC change.
    let read: BTreeSet<String> = ["get", "list", "watch"].map(String::from).into();
    for (g, r) in resources_of_role("endpointslice") {
        needed.insert((g.to_string(), r.to_string()), read.clone());
    }
    needed.insert((String::new(), "namespaces".into()), read);
    assert_eq!(grants(&role), needed);

    // The binding gives that role to the account the pods run as.
    let binding = object(&objects, "ClusterRoleBinding", "ferroprom");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], "ferroprom");
    let sts = statefulset(&objects);
    let account = str_of(&sts["spec"]["template"]["spec"]["serviceAccountName"]);
    let namespace = str_of(&sts["metadata"]["namespace"]);
    object(&objects, "ServiceAccount", account);
    assert!(
        seq(&binding["subjects"])
            .iter()
            .any(|s| s["kind"] == "ServiceAccount"
                && s["name"] == account
                && s["namespace"] == namespace),
        "{binding:?}"
    );
}

#[test]
fn configmap_keeps_every_job_of_the_upstream_example() {
    let path = common::shared_file("conformance/sd/prometheus-kubernetes.yml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is required when CI is set",
            path.display()
        );
        println!("skipping: {} not found", path.display());
        return;
    };
    let upstream: Value = serde_yaml_ng::from_str(&text).unwrap();
    let ours: Value = serde_yaml_ng::from_str(&config_text(&objects())).unwrap();
    let jobs = |c: &Value| -> BTreeMap<String, Value> {
        seq(&c["scrape_configs"])
            .iter()
            .map(|j| (str_of(&j["job_name"]).to_string(), j.clone()))
            .collect()
    };
    let (upstream, ours) = (jobs(&upstream), jobs(&ours));
    assert_eq!(
        upstream.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    for (name, want) in &upstream {
        let got = &ours[name];
        // Same discovery, same way of scraping; relabeling may add opt-in
        // rules but keeps every rule of the example.
        for key in [
            "kubernetes_sd_configs",
            "scheme",
            "metrics_path",
            "params",
            "tls_config",
            "authorization",
        ] {
            assert_eq!(got[key], want[key], "{name}: {key}");
        }
        for rule in seq(&want["relabel_configs"]) {
            let rewritten_blackbox = rule["replacement"]
                .as_str()
                .is_some_and(|r| r.contains("blackbox-exporter"));
            if rewritten_blackbox {
                continue;
            }
            assert!(
                seq(&got["relabel_configs"]).contains(rule),
                "{name}: missing relabel rule {rule:?}"
            );
        }
    }
}

#[test]
fn statefulset_is_wired_to_its_config_storage_and_services() {
    let objects = objects();
    let sts = statefulset(&objects);
    let spec = &sts["spec"];
    let pod = &spec["template"]["spec"];
    let c = container(&sts);
    let flags = flags(&c);
    assert_eq!(spec["replicas"], 2, "an HA pair");

    // Labels: the selector picks the template, and so do both Services
    // and the disruption budget.
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let selects_pods = |selector: &Value| {
        let m = selector.as_mapping().unwrap();
        !m.is_empty() && m.iter().all(|(k, v)| &pod_labels[k.as_str().unwrap()] == v)
    };
    assert!(selects_pods(&spec["selector"]["matchLabels"]));
    let pdb = object(&objects, "PodDisruptionBudget", "ferroprom");
    assert!(selects_pods(&pdb["spec"]["selector"]["matchLabels"]));
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);

    // The port the server listens on is the named port the probes and
    // Services use.
    let listen = &flags["--web.listen-address"];
    let port_number = listen.rsplit(':').next().unwrap().parse::<u64>().unwrap();
    let ports: BTreeMap<&str, u64> = seq(&c["ports"])
        .iter()
        .map(|p| (str_of(&p["name"]), p["containerPort"].as_u64().unwrap()))
        .collect();
    let port_named = |v: &Value| match v {
        Value::String(name) => *ports
            .get(name.as_str())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => other.as_u64().unwrap(),
    };
    let headless = object(&objects, "Service", str_of(&spec["serviceName"]));
    assert_eq!(headless["spec"]["clusterIP"], "None");
    for svc in [headless, object(&objects, "Service", "ferroprom")] {
        assert!(selects_pods(&svc["spec"]["selector"]));
        for p in seq(&svc["spec"]["ports"]) {
            assert_eq!(port_named(&p["targetPort"]), port_number, "{svc:?}");
        }
    }
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(port_named(&c[probe]["httpGet"]["port"]), port_number);
    }
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");

    // Mounts: the config file is the ConfigMap's key in its volume, the
    // data path the claim template's volume.
    let mount_of = |volume: &str| -> String {
        seq(&c["volumeMounts"])
            .iter()
            .find(|m| m["name"] == volume)
            .map(|m| str_of(&m["mountPath"]).to_string())
            .unwrap_or_else(|| panic!("volume {volume} is not mounted"))
    };
    let config_volume = seq(&pod["volumes"])
        .iter()
        .find(|v| v["configMap"]["name"] == "ferroprom-config")
        .expect("a volume of the ConfigMap");
    let config_dir = mount_of(str_of(&config_volume["name"]));
    assert_eq!(
        flags["--config.file"],
        format!("{config_dir}/prometheus.yml")
    );
    let claims = seq(&spec["volumeClaimTemplates"]);
    assert_eq!(claims.len(), 1);
    assert_eq!(
        flags["--storage.tsdb.path"],
        mount_of(str_of(&claims[0]["metadata"]["name"]))
    );
    for key in [
        "--storage.tsdb.retention.time",
        "--storage.tsdb.retention.size",
    ] {
        assert!(flags.contains_key(key), "{key} should be set");
    }
    for m in seq(&c["volumeMounts"]) {
        let name = &m["name"];
        assert!(
            seq(&pod["volumes"]).iter().any(|v| &v["name"] == name)
                || claims.iter().any(|t| &t["metadata"]["name"] == name),
            "mount of unknown volume {name:?}"
        );
    }

    // Not root, nothing writable but the volumes.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    // Memory is bounded, and requested as much as it may use.
    let res = &c["resources"];
    assert!(res["limits"]["memory"].is_string());
    assert_eq!(res["requests"]["memory"], res["limits"]["memory"]);

    // Every variable an external label refers to comes from the pod, and
    // `replica` (the label telling the pair apart) from the pod's name.
    let config: Value = serde_yaml_ng::from_str(&config_text(&objects)).unwrap();
    let env: BTreeMap<&str, &Value> = seq(&c["env"])
        .iter()
        .map(|e| (str_of(&e["name"]), e))
        .collect();
    let labels = config["global"]["external_labels"].as_mapping().unwrap();
    let from_pod_name = |var: &str| {
        let e = env.get(var).unwrap_or_else(|| panic!("${var} is not set"));
        e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    };
    let replica = referenced_variables(str_of(&labels["replica"]));
    assert!(
        replica.len() == 1 && from_pod_name(&replica[0]),
        "replica: {replica:?}"
    );
    // Alertmanager deduplicates the pair's alerts only without `replica`.
    let drops_replica = seq(&config["alerting"]["alert_relabel_configs"])
        .iter()
        .any(|r| r["action"] == "labeldrop" && r["regex"] == "replica");
    assert!(drops_replica, "alerts should leave `replica` out");
    for (name, value) in labels {
        for var in referenced_variables(str_of(value)) {
            assert!(
                env.contains_key(var.as_str()),
                "{name:?} refers to unset ${var}"
            );
        }
    }
}

/// The environment variables `value` refers to as `$NAME` or `${NAME}`
/// (`$$` being a literal dollar).
fn referenced_variables(value: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\$(?:\$|\{([^}]*)\}|([A-Za-z0-9_]+))").unwrap();
    re.captures_iter(value)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .map(|m| m.as_str().to_string())
        .collect()
}

#[test]
fn dockerfile_runs_as_the_pod_does() {
    let text = std::fs::read_to_string(workspace_file("Dockerfile")).unwrap();
    let objects = objects();
    let sts = statefulset(&objects);
    let c = container(&sts);
    let instruction = |name: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("{name} ")))
            .map(|v| v.trim().to_string())
            .collect()
    };
    let uid = sts["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        .as_u64()
        .unwrap();
    assert_eq!(instruction("USER"), [format!("{uid}:{uid}")]);
    let port = seq(&c["ports"])[0]["containerPort"].as_u64().unwrap();
    assert_eq!(instruction("EXPOSE"), [port.to_string()]);
    assert_eq!(
        instruction("ENTRYPOINT"),
        [r#"["/usr/local/bin/ferroprom"]"#]
    );
}

/// The container's environment as the kubelet sets it in pod `pod_name`:
/// literal values and the downward API's `metadata.name` (the only
/// references the manifests use; any other fails here, to be taught to
/// this test).
fn container_env(c: &Value, pod_name: &str) -> Vec<(String, String)> {
    seq(&c["env"])
        .iter()
        .map(|e| {
            let name = str_of(&e["name"]).to_string();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_string()
            } else if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" {
                pod_name.to_string()
            } else {
                panic!("env {name}: only `value` and metadata.name are modelled: {e:?}")
            };
            (name, value)
        })
        .collect()
}

/// Each replica of the pair, run as the real binary with the ConfigMap's
/// `prometheus.yml`, the container's flags (paths and address moved into a
/// temp dir and onto loopback) and its environment in that pod: it starts,
/// its probes answer 200, it runs with those flags, and its external
/// labels name it, so the two replicas' series differ.
#[test]
fn each_replica_runs_the_configmap_config_with_the_container_flags() {
    let objects = objects();
    let sts = statefulset(&objects);
    let c = container(&sts);
    // The service account's files, as the kubelet mounts them, in a temp
    // dir: the jobs that scrape with them read them when they start.
    let sa = tempfile::tempdir().unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["kubernetes.default.svc".into()]).unwrap();
    std::fs::write(sa.path().join("ca.crt"), ca.cert.pem()).unwrap();
    std::fs::write(sa.path().join("token"), "a-service-account-token").unwrap();
    std::fs::write(sa.path().join("namespace"), "monitoring").unwrap();
    let config = config_text(&objects);
    assert!(config.contains(SA_DIR));
    let config = config.replace(SA_DIR, sa.path().to_str().unwrap());
    let extra: Vec<String> = flags(&c)
        .into_iter()
        .filter(|(k, _)| {
            ![
                "--config.file",
                "--storage.tsdb.path",
                "--web.listen-address",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let jobs = |c: &Value| -> Vec<String> {
        seq(&c["scrape_configs"])
            .iter()
            .map(|j| str_of(&j["job_name"]).to_string())
            .collect()
    };
    let want_jobs = jobs(&serde_yaml_ng::from_str(&config).unwrap());
    let replicas = sts["spec"]["replicas"].as_u64().unwrap();
    let mut seen = BTreeSet::new();
    for ordinal in 0..replicas {
        // A StatefulSet's pods are named <set>-<ordinal>.
        let pod = format!("{}-{ordinal}", str_of(&sts["metadata"]["name"]));
        let env = container_env(&c, &pod);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let s = Server::start_with_env(tempfile::tempdir().unwrap(), Some(&config), &extra, &env);
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let path = str_of(&c[probe]["httpGet"]["path"]);
            let (code, body) = s.get(path, &[]);
            assert_eq!(code, 200, "{pod}: {probe} {path}: {body}");
        }
        let flags = s.api("/api/v1/status/flags", &[]);
        for arg in &extra {
            let (k, v) = arg.trim_start_matches("--").split_once('=').unwrap();
            assert_eq!(flags[k], v, "{pod}: {k}");
        }
        let shown = s.api("/api/v1/status/config", &[]);
        let loaded: Value = serde_yaml_ng::from_str(shown["yaml"].as_str().unwrap()).unwrap();
        let labels = &loaded["global"]["external_labels"];
        assert_eq!(labels["replica"], pod.as_str(), "{pod}: {labels:?}");
        assert!(
            seen.insert(format!("{labels:?}")),
            "{pod}: the same external labels as another replica"
        );
        assert_eq!(jobs(&loaded), want_jobs, "{pod}");
    }
}

/// The ConfigMap's `prometheus.yml` loads with ferroprom's own loader.
#[test]
fn configmap_config_loads_with_ferroprom() {
    let text = config_text(&objects());
    if let Err(e) = ferroprom::config::parse_str(&text) {
        panic!("deploy/kubernetes/configmap.yaml: prometheus.yml does not load: {e}");
    }
}

/// A Kubernetes quantity in bytes: binary (`Ki`, `Mi`, `Gi`, `Ti`) or
/// decimal (`k`, `M`, `G`, `T`) suffix, or none; the manifests use no other.
fn quantity_bytes(q: &str) -> u64 {
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (number, unit) = units
        .iter()
        .find_map(|(s, u)| q.strip_suffix(s).map(|n| (n, *u)))
        .unwrap_or((q, 1));
    number
        .parse::<u64>()
        .unwrap_or_else(|e| panic!("{q:?}: {e}"))
        * unit
}

/// The sizing the StatefulSet's comments and docs/kubernetes.md explain
/// holds for its values: memory for the series it is sized for at the
/// soak's measured RSS per head series, with `--query.max-memory`'s share
/// and 10% kept free; and a volume the size-based retention fits inside.
#[test]
fn resources_fit_the_documented_sizing() {
    // docs/performance.md, soak of 2026-12-07: peak RSS and head series.
    const SOAK_RSS_BYTES: f64 = 749.0 * 1024.0 * 1024.0;
    const SOAK_HEAD_SERIES: f64 = 215_107.0;
    // What statefulset.yaml is sized for (docs/kubernetes.md, "Sizing").
    const SIZED_FOR_SERIES: f64 = 250_000.0;
    // --query.max-memory's default share, plus 10% kept free.
    const NOT_FOR_THE_HEAD: f64 = 0.25 + 0.10;

    let objects = objects();
    let sts = statefulset(&objects);
    let c = container(&sts);
    let limit = quantity_bytes(str_of(&c["resources"]["limits"]["memory"])) as f64;
    let need = SIZED_FOR_SERIES * SOAK_RSS_BYTES / SOAK_HEAD_SERIES / (1.0 - NOT_FOR_THE_HEAD);
    assert!(limit >= need, "memory limit {limit} < {need}");
    // Rounded up to a power of two at most, not oversized.
    assert!(
        limit < 2.0 * need,
        "memory limit {limit} is over twice {need}"
    );
    let flags = flags(&c);
    assert!(
        !flags.contains_key("--query.max-memory"),
        "the sizing assumes the default --query.max-memory"
    );

    let claims = seq(&sts["spec"]["volumeClaimTemplates"]);
    let volume = quantity_bytes(str_of(
        &claims[0]["spec"]["resources"]["requests"]["storage"],
    ));
    let retained =
        storage::compact::parse_size_bytes(&flags["--storage.tsdb.retention.size"]).unwrap();
    // Retention by size counts blocks only; the WAL, the head chunks and a
    // compaction's output need room beside them.
    assert!(
        retained as f64 <= 0.8 * volume as f64,
        "retention.size {retained} leaves under 20% of the {volume}-byte volume"
    );
}
