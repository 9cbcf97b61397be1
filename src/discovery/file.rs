//! file_sd: target groups read from JSON or YAML files matched by patterns
//! with wildcards (`*`, `?`) in the last path element. Files are re-read
//! when their modification time or size changes (checked every poll) and
//! unconditionally every `refresh_interval`. A file that fails to read or
//! parse keeps its previous groups, as in Prometheus; a file that no longer
//! exists loses them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::target_group::{parse_groups, Format};
use super::TargetGroup;
use crate::config::{glob, FileSdConfig};

const FILEPATH_LABEL: &str = "__meta_filepath";

/// What identifies a file's version without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

struct FileState {
    stamp: Option<Stamp>,
    groups: Vec<TargetGroup>,
}

/// The state of one `file_sd_configs` entry.
pub(crate) struct FileSd {
    patterns: Vec<String>,
    files: BTreeMap<PathBuf, FileState>,
}

impl FileSd {
    pub(crate) fn new(cfg: &FileSdConfig) -> FileSd {
        FileSd {
            patterns: cfg.files.clone(),
            files: BTreeMap::new(),
        }
    }

    /// Re-reads files that changed (all of them when `force`), drops files
    /// that disappeared; true when the groups changed.
    pub(crate) fn poll(&mut self, force: bool) -> bool {
        let mut present: Vec<PathBuf> =
            self.patterns.iter().flat_map(|p| glob::expand(p)).collect();
        present.sort();
        present.dedup();
        let before = self.files.len();
        self.files.retain(|p, _| present.binary_search(p).is_ok());
        let mut changed = self.files.len() != before;
        for path in present {
            let stamp = stamp(&path);
            let state = self.files.entry(path.clone()).or_insert(FileState {
                stamp: None,
                groups: Vec::new(),
            });
            if !force && stamp.is_some() && state.stamp == stamp {
                continue;
            }
            match read_groups(&path) {
                Ok(groups) => {
                    state.stamp = stamp;
                    if groups != state.groups {
                        state.groups = groups;
                        changed = true;
                    }
                }
                Err(e) => {
                    // Retried at the next poll: the stamp is not recorded.
                    tracing::error!(file = %path.display(), error = %e, "file_sd: cannot read target groups; keeping the previous ones");
                }
            }
        }
        changed
    }

    /// All groups, ordered by file path.
    pub(crate) fn groups(&self) -> Vec<TargetGroup> {
        self.files
            .values()
            .flat_map(|s| s.groups.iter().cloned())
            .collect()
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let md = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: md.modified().ok(),
        len: md.len(),
    })
}

fn read_groups(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
        Some(e) if e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml") => Format::Yaml,
        _ => return Err("unknown file extension (want .json, .yml or .yaml)".to_string()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let name = path.to_string_lossy();
    parse_groups(&text, format, &name, (FILEPATH_LABEL, &name))
}

/// Polls `cfg`'s files every `poll` and re-reads all of them every
/// `refresh_interval`, sending the full group list whenever it changes (and
/// once at start).
pub(crate) async fn run(cfg: FileSdConfig, poll: Duration, tx: mpsc::Sender<Vec<TargetGroup>>) {
    let refresh = cfg.refresh_interval.as_std().max(Duration::from_millis(1));
    let mut sd = FileSd::new(&cfg);
    let mut last_full = Instant::now();
    let mut first = true;
    loop {
        let force = first || last_full.elapsed() >= refresh;
        if force {
            last_full = Instant::now();
        }
        let Ok((back, changed)) = tokio::task::spawn_blocking(move || {
            let changed = sd.poll(force);
            (sd, changed)
        })
        .await
        else {
            return;
        };
        sd = back;
        if (changed || first) && tx.send(sd.groups()).await.is_err() {
            return;
        }
        first = false;
        tokio::time::sleep(poll.min(refresh)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromDuration;

    fn cfg(files: Vec<String>) -> FileSdConfig {
        FileSdConfig {
            files,
            refresh_interval: PromDuration::from_secs(300),
        }
    }

    fn addresses(groups: &[TargetGroup]) -> Vec<String> {
        groups
            .iter()
            .flat_map(|g| g.targets.iter().map(|t| t["__address__"].clone()))
            .collect()
    }

    #[test]
    fn reads_globs_keeps_groups_of_broken_files_and_drops_deleted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.yml");
        std::fs::write(&a, r#"[{"targets": ["a:1"], "labels": {"x": "1"}}]"#).unwrap();
        std::fs::write(&b, "- targets: ['b:1', 'b:2']\n").unwrap();
        std::fs::write(dir.path().join("c.txt"), "ignored").unwrap();
        let mut sd = FileSd::new(&cfg(vec![
            dir.path().join("*.json").to_string_lossy().into(),
            dir.path().join("*.yml").to_string_lossy().into(),
        ]));
        assert!(sd.poll(false));
        let g = sd.groups();
        assert_eq!(addresses(&g), ["a:1", "b:1", "b:2"]);
        assert_eq!(g[0].labels[FILEPATH_LABEL], a.to_string_lossy());
        assert_eq!(g[0].source, format!("{}:0", a.to_string_lossy()));
        assert!(!sd.poll(false), "nothing changed");

        // Broken file: previous groups stay.
        std::fs::write(&a, "[{not json").unwrap();
        assert!(!sd.poll(false));
        assert_eq!(addresses(&sd.groups()), ["a:1", "b:1", "b:2"]);

        // Fixed again, with different content (and size).
        std::fs::write(&a, r#"[{"targets": ["a:1", "a:22"]}]"#).unwrap();
        assert!(sd.poll(false));
        assert_eq!(addresses(&sd.groups()), ["a:1", "a:22", "b:1", "b:2"]);

        // Deleted: its groups go.
        std::fs::remove_file(&b).unwrap();
        assert!(sd.poll(false));
        assert_eq!(addresses(&sd.groups()), ["a:1", "a:22"]);
    }

    #[tokio::test]
    async fn watcher_sends_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.yaml");
        std::fs::write(&f, "- targets: ['x:1']\n").unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(run(
            cfg(vec![f.to_string_lossy().into()]),
            Duration::from_millis(20),
            tx,
        ));
        let first = rx.recv().await.unwrap();
        assert_eq!(addresses(&first), ["x:1"]);
        std::fs::write(&f, "- targets: ['x:1', 'y:22']\n").unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(addresses(&second), ["x:1", "y:22"]);
        task.abort();
    }
}
