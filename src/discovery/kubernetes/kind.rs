//! The kinds of API object discovery watches: where each is listed and
//! watched, and the decoded object as it travels from a reflector to the
//! discoverer.

use std::sync::Arc;

use super::objects::{
    EndpointSlice, Endpoints, Ingress, Job, Namespace, Node, Pod, ReplicaSet, Service,
};

/// Declares [`Kind`] and [`Object`] from one table: variant, API group
/// path, resource, namespaced or not.
macro_rules! kinds {
    ($($name:ident: $group:literal, $resource:literal, $namespaced:literal;)*) => {
        /// A kind of API object.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) enum Kind {
            $($name,)*
        }

        impl Kind {
            /// Whether objects live in namespaces (and so can be watched
            /// per namespace).
            pub(crate) fn namespaced(self) -> bool {
                match self {
                    $(Kind::$name => $namespaced,)*
                }
            }

            /// The API group path and resource name.
            fn resource(self) -> (&'static str, &'static str) {
                match self {
                    $(Kind::$name => ($group, $resource),)*
                }
            }

            /// Decodes one object of this kind from its JSON.
            pub(crate) fn decode(
                self,
                json: serde_json::Value,
            ) -> Result<Object, serde_json::Error> {
                Ok(match self {
                    $(Kind::$name => Object::$name(Arc::new(serde_json::from_value(json)?)),)*
                })
            }
        }

        /// A decoded object of some kind; shared, as stores and lookups
        /// hold the same object.
        #[derive(Clone, Debug)]
        pub(crate) enum Object {
            $($name(Arc<$name>),)*
        }

        impl Object {
            pub(crate) fn kind(&self) -> Kind {
                match self {
                    $(Object::$name(_) => Kind::$name,)*
                }
            }
        }
    };
}

kinds! {
    Node: "api/v1", "nodes", false;
    Namespace: "api/v1", "namespaces", false;
    Service: "api/v1", "services", true;
    Pod: "api/v1", "pods", true;
    Endpoints: "api/v1", "endpoints", true;
    EndpointSlice: "apis/discovery.k8s.io/v1", "endpointslices", true;
    Ingress: "apis/networking.k8s.io/v1", "ingresses", true;
    ReplicaSet: "apis/apps/v1", "replicasets", true;
    Job: "apis/batch/v1", "jobs", true;
}

impl Kind {
    /// The API path of the collection: all namespaces, or `namespace`'s.
    pub(crate) fn collection_path(self, namespace: Option<&str>) -> String {
        let (group, resource) = self.resource();
        match namespace.filter(|_| self.namespaced()) {
            Some(ns) => format!("/{group}/namespaces/{ns}/{resource}"),
            None => format!("/{group}/{resource}"),
        }
    }
}

/// The store key of an object: `<namespace>/<name>`, or the name alone
/// for objects outside namespaces.
pub(crate) fn key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_namespace_or_cluster_wide() {
        assert_eq!(Kind::Node.collection_path(None), "/api/v1/nodes");
        assert_eq!(Kind::Node.collection_path(Some("x")), "/api/v1/nodes");
        assert_eq!(
            Kind::Service.collection_path(Some("web")),
            "/api/v1/namespaces/web/services"
        );
        assert_eq!(
            Kind::Ingress.collection_path(None),
            "/apis/networking.k8s.io/v1/ingresses"
        );
        assert_eq!(
            Kind::EndpointSlice.collection_path(Some("a")),
            "/apis/discovery.k8s.io/v1/namespaces/a/endpointslices"
        );
        assert_eq!(Kind::Job.collection_path(None), "/apis/batch/v1/jobs");
        assert_eq!(key("", "n1"), "n1");
        assert_eq!(key("ns", "a"), "ns/a");
    }

    #[test]
    fn decoding_checks_the_shape() {
        let o = Kind::Node
            .decode(serde_json::json!({"metadata": {"name": "n"}}))
            .unwrap();
        assert_eq!(o.kind(), Kind::Node);
        assert!(Kind::Service
            .decode(serde_json::json!({"metadata": "x"}))
            .is_err());
    }
}
