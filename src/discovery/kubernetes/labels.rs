//! The `__meta_kubernetes_*` labels every role shares: an object's name,
//! labels and annotations (each with a `…present_…` twin so that relabeling
//! can tell an empty value from an absent key), its namespace's metadata,
//! and `host:port` joining for `__address__`.

use std::collections::BTreeMap;

use super::objects::ObjectMeta;

/// Prefix of every label this discovery sets.
pub(crate) const META_PREFIX: &str = "__meta_kubernetes_";
/// The namespace of a namespaced object.
pub(crate) const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";

pub(crate) use crate::discovery::target_group::{join_host_port, sanitize_label_name as sanitize};

/// `__meta_kubernetes_<suffix>`.
pub(crate) fn meta_label(suffix: &str) -> String {
    format!("{META_PREFIX}{suffix}")
}

/// Adds `<role>_name`, `<role>_label_<k>`, `<role>_labelpresent_<k>`,
/// `<role>_annotation_<k>` and `<role>_annotationpresent_<k>`.
pub(crate) fn add_object_meta(out: &mut BTreeMap<String, String>, meta: &ObjectMeta, role: &str) {
    out.insert(format!("{META_PREFIX}{role}_name"), meta.name.clone());
    add_labels_and_annotations(out, meta, role);
}

/// Adds the namespace's labels and annotations (and their `present` twins)
/// under `namespace_…`, for `attach_metadata: {namespace: true}`. The
/// namespace's name is already the object's `__meta_kubernetes_namespace`.
pub(crate) fn add_namespace_meta(out: &mut BTreeMap<String, String>, namespace: &ObjectMeta) {
    add_labels_and_annotations(out, namespace, "namespace");
}

fn add_labels_and_annotations(out: &mut BTreeMap<String, String>, meta: &ObjectMeta, role: &str) {
    for (kind, map) in [("label", &meta.labels), ("annotation", &meta.annotations)] {
        for (key, value) in map {
            let key = sanitize(key);
            out.insert(format!("{META_PREFIX}{role}_{kind}_{key}"), value.clone());
            out.insert(
                format!("{META_PREFIX}{role}_{kind}present_{key}"),
                "true".to_string(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_everything_outside_the_label_alphabet() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("test-label"), "test_label");
        assert_eq!(sanitize("Ünschedulable_9"), "_nschedulable_9");
        assert_eq!(sanitize("0abc"), "0abc");
    }

    #[test]
    fn meta_labels_have_present_twins_even_for_empty_values() {
        let meta = ObjectMeta {
            name: "n".into(),
            labels: BTreeMap::from([("a/b".into(), "".into())]),
            annotations: BTreeMap::from([("c".into(), "v".into())]),
            ..ObjectMeta::default()
        };
        let mut out = BTreeMap::new();
        add_object_meta(&mut out, &meta, "pod");
        let want: BTreeMap<String, String> = [
            ("__meta_kubernetes_pod_name", "n"),
            ("__meta_kubernetes_pod_label_a_b", ""),
            ("__meta_kubernetes_pod_labelpresent_a_b", "true"),
            ("__meta_kubernetes_pod_annotation_c", "v"),
            ("__meta_kubernetes_pod_annotationpresent_c", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(join_host_port("1.2.3.4", 10250), "1.2.3.4:10250");
        assert_eq!(join_host_port("2001:db8::1", 80), "[2001:db8::1]:80");
    }
}
