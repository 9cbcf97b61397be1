//! The service-discovery keys a scrape job and an Alertmanager set share
//! (`static_configs`, `file_sd_configs`, `http_sd_configs`,
//! `dns_sd_configs`, `consul_sd_configs`, `kubernetes_sd_configs`),
//! declared once: a struct gets them by being declared
//! inside [`sd_keys!`], which also gives it the HTTP client keys (through
//! `http_client_keys!`, as both users have them) and generates
//! `sd_configs` (a copy of the keys as one [`SdConfigs`]) and
//! `with_sd_configs` (the keys moved out as one [`SdConfigs`] and back).
//! A new mechanism is added here and in [`SdConfigs`] only. A macro for
//! the same reason as `http_client_keys!`: serde's flatten cannot be
//! combined with `deny_unknown_fields`.
//!
//! Also home of [`DnsSdConfig`], the one mechanism whose keys are not
//! declared next to the scrape job.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::{
    ConsulSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, PromDuration, StaticConfig,
};

/// Declares a config struct with its own fields, then the SD keys, then
/// the HTTP client keys.
macro_rules! sd_keys {
    ($(#[$attr:meta])* $vis:vis struct $name:ident { $($own:tt)* }) => {
        $crate::config::http_client::http_client_keys! {
            $(#[$attr])*
            $vis struct $name {
                $($own)*
                #[serde(default)]
                pub static_configs: Vec<$crate::config::StaticConfig>,
                #[serde(default)]
                pub file_sd_configs: Vec<$crate::config::FileSdConfig>,
                #[serde(default)]
                pub http_sd_configs: Vec<$crate::config::HttpSdConfig>,
                #[serde(default)]
                pub dns_sd_configs: Vec<$crate::config::DnsSdConfig>,
                #[serde(default)]
                pub consul_sd_configs: Vec<$crate::config::ConsulSdConfig>,
                #[serde(default)]
                pub kubernetes_sd_configs: Vec<$crate::config::KubernetesSdConfig>,
            }
        }

        impl $name {
            /// A copy of this entry's discovery keys.
            pub(crate) fn sd_configs(&self) -> $crate::config::SdConfigs {
                $crate::config::SdConfigs {
                    static_configs: self.static_configs.clone(),
                    file_sd_configs: self.file_sd_configs.clone(),
                    http_sd_configs: self.http_sd_configs.clone(),
                    dns_sd_configs: self.dns_sd_configs.clone(),
                    consul_sd_configs: self.consul_sd_configs.clone(),
                    kubernetes_sd_configs: self.kubernetes_sd_configs.clone(),
                }
            }

            /// Runs `f` on this entry's discovery keys as one
            /// [`SdConfigs`]; they are moved out and back, not copied.
            pub(crate) fn with_sd_configs<R>(
                &mut self,
                f: impl FnOnce(&mut $crate::config::SdConfigs) -> R,
            ) -> R {
                use std::mem::take;
                let mut keys = $crate::config::SdConfigs {
                    static_configs: take(&mut self.static_configs),
                    file_sd_configs: take(&mut self.file_sd_configs),
                    http_sd_configs: take(&mut self.http_sd_configs),
                    dns_sd_configs: take(&mut self.dns_sd_configs),
                    consul_sd_configs: take(&mut self.consul_sd_configs),
                    kubernetes_sd_configs: take(&mut self.kubernetes_sd_configs),
                };
                let r = f(&mut keys);
                self.static_configs = keys.static_configs;
                self.file_sd_configs = keys.file_sd_configs;
                self.http_sd_configs = keys.http_sd_configs;
                self.dns_sd_configs = keys.dns_sd_configs;
                self.consul_sd_configs = keys.consul_sd_configs;
                self.kubernetes_sd_configs = keys.kubernetes_sd_configs;
                r
            }
        }
    };
}

pub(crate) use sd_keys;

/// Every way one scrape job or Alertmanager set finds its targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SdConfigs {
    pub static_configs: Vec<StaticConfig>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub http_sd_configs: Vec<HttpSdConfig>,
    pub dns_sd_configs: Vec<DnsSdConfig>,
    pub consul_sd_configs: Vec<ConsulSdConfig>,
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
}

/// `dns_sd_configs:` entry: DNS names looked up every `refresh_interval`
/// (default 30s), one target per record. `port` is required for every
/// type but SRV, whose records carry their own.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default, rename = "type")]
    pub record_type: DnsRecordType,
    /// 0 when not set; checked by the loader.
    #[serde(default)]
    pub port: u16,
    #[serde(default = "super::duration::thirty_seconds")]
    pub refresh_interval: PromDuration,
}

/// The record types dns_sd can ask for. Written in any case in the file,
/// as Prometheus upper-cases it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DnsRecordType {
    #[default]
    Srv,
    A,
    Aaaa,
    Mx,
    Ns,
}

impl DnsRecordType {
    /// The type's name as DNS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecordType::Srv => "SRV",
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Mx => "MX",
            DnsRecordType::Ns => "NS",
        }
    }
}

impl fmt::Display for DnsRecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DnsRecordType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = match s.to_ascii_uppercase().as_str() {
            "SRV" => DnsRecordType::Srv,
            "A" => DnsRecordType::A,
            "AAAA" => DnsRecordType::Aaaa,
            "MX" => DnsRecordType::Mx,
            "NS" => DnsRecordType::Ns,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "invalid DNS-SD records type {s}"
                )))
            }
        };
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_sd_defaults_and_types() {
        let c: DnsSdConfig = serde_yaml_ng::from_str("names: [a.example]").unwrap();
        assert_eq!(c.record_type, DnsRecordType::Srv);
        assert_eq!(c.port, 0);
        assert_eq!(c.refresh_interval, PromDuration::from_secs(30));
        for (text, want) in [
            ("srv", DnsRecordType::Srv),
            ("A", DnsRecordType::A),
            ("aaaa", DnsRecordType::Aaaa),
            ("Mx", DnsRecordType::Mx),
            ("NS", DnsRecordType::Ns),
        ] {
            let c: DnsSdConfig =
                serde_yaml_ng::from_str(&format!("names: [a]\ntype: {text}\nport: 80")).unwrap();
            assert_eq!(c.record_type, want);
            assert_eq!(c.record_type.to_string(), want.as_str());
        }
        let e = serde_yaml_ng::from_str::<DnsSdConfig>("names: [a]\ntype: TXT")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid DNS-SD records type TXT"), "{e}");
        assert!(serde_yaml_ng::from_str::<DnsSdConfig>("names: [a]\nprot: 1").is_err());
    }
}
