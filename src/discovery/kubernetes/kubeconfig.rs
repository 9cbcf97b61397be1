//! Access from a kubeconfig file (`kubeconfig_file`), as client-go reads
//! one: its `current-context` picks a cluster (server, CA as a file or
//! inline base64 data, `insecure-skip-tls-verify`, `tls-server-name`) and
//! a user (bearer token or token file, client certificate and key as files
//! or inline data, username and password). Relative paths are relative to
//! the kubeconfig's directory. Exec plugins and auth providers are not
//! supported and are refused with that reason.

use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use super::client::{parse_server, Access};
use super::error::KubeError;
use crate::config::{Authorization, BasicAuth, TlsConfig};

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct Kubeconfig {
    current_context: String,
    clusters: Vec<Named<Cluster>>,
    contexts: Vec<Named<Context>>,
    users: Vec<Named<User>>,
}

/// Every list entry is `{name, <kind>: {...}}`; the payload key differs
/// by kind, so each kind's key is accepted.
#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "context", alias = "user", default)]
    value: Option<T>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    insecure_skip_tls_verify: bool,
    tls_server_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<String>,
    username: Option<String>,
    password: Option<String>,
    exec: Option<serde_yaml_ng::Value>,
    auth_provider: Option<serde_yaml_ng::Value>,
}

fn find<'a, T>(list: &'a [Named<T>], name: &str) -> Option<&'a T> {
    list.iter()
        .find(|n| n.name == name)
        .and_then(|n| n.value.as_ref())
}

/// Reads `path` and builds the access its current context describes.
pub(crate) fn access(path: &Path) -> Result<Access, KubeError> {
    let fail = |msg: String| KubeError::Kubeconfig {
        path: path.display().to_string(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    from_text(&text, dir).map_err(fail)
}

/// The access the kubeconfig `text` describes; relative paths are joined
/// to `dir`.
fn from_text(text: &str, dir: &Path) -> Result<Access, String> {
    let kc: Kubeconfig = serde_yaml_ng::from_str::<Option<Kubeconfig>>(text)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if kc.current_context.is_empty() {
        return Err("invalid configuration: no configuration has been provided".to_string());
    }
    let ctx = find(&kc.contexts, &kc.current_context).ok_or_else(|| {
        format!(
            "context was not found for specified context: {}",
            kc.current_context
        )
    })?;
    let cluster = find(&kc.clusters, &ctx.cluster)
        .ok_or_else(|| format!("cluster {:?} of the current context not found", ctx.cluster))?;
    if cluster.server.is_empty() {
        return Err("invalid configuration: cluster has no server defined".to_string());
    }
    let no_user = User::default();
    let user = if ctx.user.is_empty() {
        &no_user
    } else {
        find(&kc.users, &ctx.user)
            .ok_or_else(|| format!("user {:?} of the current context not found", ctx.user))?
    };
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(format!(
            "user {:?} gets its credentials from an exec plugin or auth provider, which is not supported; use a token, token file or client certificate",
            ctx.user
        ));
    }

    let path = |p: &Option<String>| {
        p.as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| dir.join(p).display().to_string())
    };
    let data = |what: &str, d: &Option<String>| -> Result<Option<String>, String> {
        let Some(d) = d.as_ref().filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map_err(|e| format!("{what}: invalid base64: {e}"))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{what}: not PEM text"))
    };
    let tls = TlsConfig {
        ca: data(
            "certificate-authority-data",
            &cluster.certificate_authority_data,
        )?,
        ca_file: path(&cluster.certificate_authority),
        cert: data("client-certificate-data", &user.client_certificate_data)?,
        cert_file: path(&user.client_certificate),
        key: data("client-key-data", &user.client_key_data)?,
        key_file: path(&user.client_key),
        insecure_skip_verify: cluster.insecure_skip_tls_verify,
        server_name: cluster.tls_server_name.clone().filter(|s| !s.is_empty()),
        ..TlsConfig::default()
    };
    // Inline data wins over a file, as in client-go.
    let tls = TlsConfig {
        ca_file: tls.ca_file.filter(|_| tls.ca.is_none()),
        cert_file: tls.cert_file.filter(|_| tls.cert.is_none()),
        key_file: tls.key_file.filter(|_| tls.key.is_none()),
        ..tls
    };

    let token = user.token.clone().filter(|t| !t.is_empty());
    let token_file = path(&user.token_file);
    let basic = user
        .username
        .as_ref()
        .filter(|u| !u.is_empty())
        .map(|u| BasicAuth {
            username: u.clone(),
            password: user.password.clone(),
            ..BasicAuth::default()
        });
    if basic.is_some() && (token.is_some() || token_file.is_some()) {
        return Err("username/password or bearer token may be set, but not both".to_string());
    }
    let authorization = (token.is_some() || token_file.is_some()).then(|| Authorization {
        kind: "Bearer".to_string(),
        // A token file is re-read at every request, so it wins.
        credentials: token.filter(|_| token_file.is_none()),
        credentials_file: token_file,
    });

    Ok(Access {
        server: parse_server(&cluster.server).map_err(|e| e.to_string())?,
        basic_auth: basic,
        authorization,
        tls: Some(tls),
        follow_redirects: true,
        enable_http2: true,
        own_namespace: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::kubernetes::client::ApiClient;
    use crate::discovery::kubernetes::tls_test_server::TlsApi;

    const CONFIG: &str = "
apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: staging
    cluster: {server: 'https://staging:6443'}
  - name: prod-cluster
    cluster:
      server: https://prod.example:6443
      certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
      tls-server-name: kubernetes
contexts:
  - name: prod
    context: {cluster: prod-cluster, user: admin, namespace: default}
users:
  - name: admin
    user:
      client-certificate: certs/admin.crt
      client-key-data: a2V5
      tokenFile: token
";

    #[test]
    fn current_context_picks_cluster_and_user() {
        let a = from_text(CONFIG, Path::new("/home/u/.kube")).unwrap();
        assert_eq!(a.server.as_str(), "https://prod.example:6443/");
        let tls = a.tls.unwrap();
        assert_eq!(tls.ca.as_deref(), Some("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(tls.ca_file, None);
        assert_eq!(
            tls.cert_file.as_deref(),
            Some("/home/u/.kube/certs/admin.crt")
        );
        assert_eq!(tls.key.as_deref(), Some("key"));
        assert_eq!(tls.server_name.as_deref(), Some("kubernetes"));
        assert!(!tls.insecure_skip_verify);
        let auth = a.authorization.unwrap();
        assert_eq!(
            auth.credentials_file.as_deref(),
            Some("/home/u/.kube/token")
        );
        assert_eq!(auth.credentials, None);
        assert!(a.basic_auth.is_none());
    }

    #[test]
    fn token_and_basic_auth_users() {
        let cfg = "current-context: c
clusters: [{name: k, cluster: {server: 'http://127.0.0.1:8001', insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {token: abc}}]";
        let a = from_text(cfg, Path::new("/")).unwrap();
        assert_eq!(a.authorization.unwrap().credentials.as_deref(), Some("abc"));
        assert!(a.tls.unwrap().insecure_skip_verify);
        let basic = cfg.replace("{token: abc}", "{username: me, password: pw}");
        let a = from_text(&basic, Path::new("/")).unwrap();
        let ba = a.basic_auth.unwrap();
        assert_eq!(
            (ba.username.as_str(), ba.password.as_deref()),
            ("me", Some("pw"))
        );
        let both = cfg.replace("{token: abc}", "{token: abc, username: me}");
        assert!(from_text(&both, Path::new("/"))
            .unwrap_err()
            .contains("not both"));
    }

    /// The file's CA (relative to it) is trusted and its token file is
    /// read at every request.
    #[tokio::test]
    async fn requests_trust_the_ca_and_send_the_current_token() {
        let api = TlsApi::start().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), &api.ca_pem).unwrap();
        std::fs::write(dir.path().join("token"), "t0").unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "current-context: c
clusters: [{{name: k, cluster: {{server: 'https://{}', certificate-authority: ca.crt}}}}]
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
users: [{{name: u, user: {{tokenFile: token}}}}]",
                api.addr
            ),
        )
        .unwrap();
        let client = ApiClient::new(access(&kubeconfig).unwrap()).unwrap();
        client.list("/api/v1/pods", &[]).await.unwrap();
        std::fs::write(dir.path().join("token"), "t1").unwrap();
        client.list("/api/v1/pods", &[]).await.unwrap();
        assert_eq!(api.authorizations(), ["Bearer t0", "Bearer t1"]);
    }

    #[test]
    fn broken_files_say_why() {
        for (text, want) in [
            ("", "no configuration has been provided"),
            ("current-context: x\n", "context was not found for specified context: x"),
            (
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n",
                "cluster \"k\" of the current context not found",
            ),
            (
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {}}]\n",
                "cluster has no server defined",
            ),
            (
                "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n",
                "exec plugin or auth provider, which is not supported",
            ),
            (
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: 'https://a', certificate-authority-data: '%%%'}}]\n",
                "certificate-authority-data: invalid base64",
            ),
            ("clusters: 3", "invalid type"),
        ] {
            let e = from_text(text, Path::new("/")).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = access(Path::new("/nonexistent/kubeconfig")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("kubeconfig /nonexistent/kubeconfig:"),
            "{e}"
        );
    }
}
