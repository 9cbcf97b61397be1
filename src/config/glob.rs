//! File patterns with wildcards (`*`, `?`) in the last path element, the
//! form Prometheus allows for file_sd and scrape_config_files.

use std::path::{Path, PathBuf};

/// The existing files a pattern names.
pub(crate) fn expand(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard(name, n)))
        .map(|e| dir.join(e.file_name()))
        .collect();
    out.sort();
    out
}

/// `*` matches any run of characters, `?` any one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Greedy match with backtracking to the last `*`: linear for one star.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, n, want) in [
            ("*.json", "a.json", true),
            ("*.json", ".json", true),
            ("*.json", "a.yml", false),
            ("t-*.yml", "t-1.yml", true),
            ("t-*.yml", "x-1.yml", false),
            ("a?.json", "ab.json", true),
            ("a?.json", "a.json", false),
            ("*", "anything", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact.json", "exact.json", true),
        ] {
            assert_eq!(wildcard(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn expands_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.yml", "b.yml", "c.json"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.yml")).unwrap();
        let pattern = dir.path().join("*.yml");
        let got = expand(&pattern.to_string_lossy());
        assert_eq!(got, [dir.path().join("a.yml"), dir.path().join("b.yml")]);
        let exact = dir.path().join("c.json");
        assert_eq!(expand(&exact.to_string_lossy()), [exact]);
        assert!(expand(&dir.path().join("none.json").to_string_lossy()).is_empty());
    }
}
