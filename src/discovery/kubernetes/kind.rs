//! The kinds of API object discovery watches: where each is listed and
//! watched, and the decoded object as it travels from a reflector to the
//! discoverer.

use std::sync::Arc;

use super::objects::{Ingress, Namespace, Node, Service};

/// A kind of API object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Node,
    Namespace,
    Service,
    Ingress,
}

impl Kind {
    /// Whether objects live in namespaces (and so can be watched per
    /// namespace).
    pub(crate) fn namespaced(self) -> bool {
        !matches!(self, Kind::Node | Kind::Namespace)
    }

    /// The API path of the collection: all namespaces, or `namespace`'s.
    pub(crate) fn collection_path(self, namespace: Option<&str>) -> String {
        let (group, resource) = match self {
            Kind::Node => ("api/v1", "nodes"),
            Kind::Namespace => ("api/v1", "namespaces"),
            Kind::Service => ("api/v1", "services"),
            Kind::Ingress => ("apis/networking.k8s.io/v1", "ingresses"),
        };
        match namespace.filter(|_| self.namespaced()) {
            Some(ns) => format!("/{group}/namespaces/{ns}/{resource}"),
            None => format!("/{group}/{resource}"),
        }
    }

    /// Decodes one object of this kind from its JSON.
    pub(crate) fn decode(self, json: serde_json::Value) -> Result<Object, serde_json::Error> {
        Ok(match self {
            Kind::Node => Object::Node(Arc::new(serde_json::from_value(json)?)),
            Kind::Namespace => Object::Namespace(Arc::new(serde_json::from_value(json)?)),
            Kind::Service => Object::Service(Arc::new(serde_json::from_value(json)?)),
            Kind::Ingress => Object::Ingress(Arc::new(serde_json::from_value(json)?)),
        })
    }
}

/// A decoded object of some kind; shared, as stores and lookups hold the
/// same object.
#[derive(Clone, Debug)]
pub(crate) enum Object {
    Node(Arc<Node>),
    Namespace(Arc<Namespace>),
    Service(Arc<Service>),
    Ingress(Arc<Ingress>),
}

impl Object {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Object::Node(_) => Kind::Node,
            Object::Namespace(_) => Kind::Namespace,
            Object::Service(_) => Kind::Service,
            Object::Ingress(_) => Kind::Ingress,
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
