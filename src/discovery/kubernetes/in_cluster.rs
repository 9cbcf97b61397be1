//! Access from inside a pod, as client-go's in-cluster configuration: the
//! API server at `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`,
//! the service account's token as bearer credentials (read from its file
//! at every request, since the kubelet rotates it), its `ca.crt` as the
//! trusted CA, and its `namespace` file naming the pod's own namespace.

use std::net::IpAddr;
use std::path::Path;

use super::client::{parse_server, Access};
use super::error::KubeError;
use crate::config::{Authorization, TlsConfig};

/// Where the kubelet mounts the pod's service account.
pub(crate) const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The in-cluster access, from the environment (`env` looks a variable
/// up) and the service-account directory `dir`. `own_namespace` asks for
/// the `namespace` file to be read too, which must then exist and not be
/// empty. The token file must exist now; a missing CA file is logged and
/// left out, as client-go does.
pub(crate) fn access(
    env: impl Fn(&str) -> Option<String>,
    dir: &Path,
    own_namespace: bool,
) -> Result<Access, KubeError> {
    let host = env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty());
    let port = env("KUBERNETES_SERVICE_PORT").filter(|p| !p.is_empty());
    let (Some(host), Some(port)) = (host, port) else {
        return Err(KubeError::NotInCluster);
    };
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]"),
        _ => host,
    };
    let server = parse_server(&format!("https://{host}:{port}"))?;

    let token = dir.join("token");
    std::fs::metadata(&token).map_err(|e| KubeError::ServiceAccount {
        path: token.display().to_string(),
        msg: format!("cannot read the service-account token: {e}"),
    })?;
    let ca = dir.join("ca.crt");
    let ca_file = match std::fs::metadata(&ca) {
        Ok(_) => Some(ca.display().to_string()),
        Err(e) => {
            tracing::error!(path = %ca.display(), error = %e, "kubernetes_sd: expected to load the root CA from the service account");
            None
        }
    };
    let own = if own_namespace {
        let file = dir.join("namespace");
        let ns = std::fs::read_to_string(&file)
            .map_err(|e| KubeError::OwnNamespace(format!("{}: {e}", file.display())))?;
        if ns.is_empty() {
            return Err(KubeError::OwnNamespace(
                "could not read own namespace name (empty file)".to_string(),
            ));
        }
        Some(ns)
    } else {
        None
    };
    tracing::info!("kubernetes_sd: using pod service account via in-cluster config");
    Ok(Access {
        server,
        basic_auth: None,
        authorization: Some(Authorization {
            kind: "Bearer".to_string(),
            credentials: None,
            credentials_file: Some(token.display().to_string()),
        }),
        tls: ca_file.map(|ca_file| TlsConfig {
            ca_file: Some(ca_file),
            ..TlsConfig::default()
        }),
        follow_redirects: true,
        enable_http2: true,
        own_namespace: own,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::discovery::kubernetes::client::ApiClient;
    use crate::discovery::kubernetes::tls_test_server::TlsApi;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    const IN_POD: &[(&str, &str)] = &[
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
    ];

    #[test]
    fn service_account_files_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t0").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "pem").unwrap();
        std::fs::write(dir.path().join("namespace"), "monitoring").unwrap();
        let a = access(env(IN_POD), dir.path(), true).unwrap();
        assert_eq!(a.server.as_str(), "https://10.96.0.1/");
        let auth = a.authorization.unwrap();
        assert_eq!(auth.kind, "Bearer");
        assert_eq!(
            auth.credentials_file.unwrap(),
            dir.path().join("token").display().to_string()
        );
        assert_eq!(
            a.tls.unwrap().ca_file.unwrap(),
            dir.path().join("ca.crt").display().to_string()
        );
        assert_eq!(a.own_namespace.as_deref(), Some("monitoring"));

        let a = access(env(IN_POD), dir.path(), false).unwrap();
        assert_eq!(a.own_namespace, None);
        let v6 = [
            ("KUBERNETES_SERVICE_HOST", "fd00::1"),
            ("KUBERNETES_SERVICE_PORT", "6443"),
        ];
        let a = access(env(&v6), dir.path(), false).unwrap();
        assert_eq!(a.server.as_str(), "https://[fd00::1]:6443/");
    }

    /// The service account's CA is what makes the API server trusted, and
    /// each request sends the token the file holds at that moment, so a
    /// token the kubelet rotates is picked up without a restart.
    #[tokio::test]
    async fn requests_trust_the_ca_and_send_the_current_token() {
        let api = TlsApi::start().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t0").unwrap();
        std::fs::write(dir.path().join("ca.crt"), &api.ca_pem).unwrap();
        let port = api.addr.port().to_string();
        let vars = [
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", port.as_str()),
        ];
        let client = ApiClient::new(access(env(&vars), dir.path(), false).unwrap()).unwrap();
        client.list("/api/v1/nodes", &[]).await.unwrap();
        std::fs::write(dir.path().join("token"), "t1\n").unwrap();
        client.list("/api/v1/nodes", &[]).await.unwrap();
        assert_eq!(api.authorizations(), ["Bearer t0", "Bearer t1"]);

        std::fs::remove_file(dir.path().join("ca.crt")).unwrap();
        let untrusting = ApiClient::new(access(env(&vars), dir.path(), false).unwrap()).unwrap();
        let e = untrusting.list("/api/v1/nodes", &[]).await.unwrap_err();
        assert!(matches!(e, KubeError::Request(_)), "{e}");
        assert_eq!(api.authorizations().len(), 2, "no request got through");
    }

    #[test]
    fn what_is_missing_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let e = access(env(&[]), dir.path(), false).unwrap_err();
        assert!(e
            .to_string()
            .contains("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"));
        let e = access(env(IN_POD), dir.path(), false).unwrap_err();
        assert!(e.to_string().contains("service-account token"), "{e}");
        std::fs::write(dir.path().join("token"), "t").unwrap();
        // No CA: logged, not fatal.
        let a = access(env(IN_POD), dir.path(), false).unwrap();
        assert!(a.tls.is_none());
        let e = access(env(IN_POD), dir.path(), true).unwrap_err();
        assert!(
            e.to_string()
                .contains("could not determine the pod's namespace"),
            "{e}"
        );
        std::fs::write(dir.path().join("namespace"), "").unwrap();
        let e = access(env(IN_POD), dir.path(), true).unwrap_err();
        assert!(e.to_string().contains("empty file"), "{e}");
    }
}
