//! Kubernetes service discovery, first piece: the API objects each role
//! reads and the pure functions turning one object into the target group
//! Prometheus 3.x builds from it. The list/watch client that feeds them,
//! and the `kubernetes_sd_configs` keys, come next.
//!
//! Every role's group has the source `<kind>/<namespace>/<name>` (`node/<name>`
//! for nodes); an object's deletion is reported as an empty group with that
//! same source, which is what [`deleted`] builds.

pub(crate) mod ingress;
mod labels;
pub(crate) mod node;
pub(crate) mod objects;
pub(crate) mod service;

#[cfg(test)]
mod test_support;

use super::TargetGroup;

/// The group announcing that the object behind `source` is gone: no targets,
/// no labels, as Prometheus sends on a delete event.
pub(crate) fn deleted(source: String) -> TargetGroup {
    TargetGroup {
        source,
        ..TargetGroup::default()
    }
}
