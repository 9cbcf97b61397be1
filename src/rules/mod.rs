//! Recording and alerting rules: the rule-file format and its checks
//! ([`rule_file`]), the template engine that expands alert labels and
//! annotations ([`template`]), and the `promtool test rules` unit-test
//! format ([`unittest`]).

pub mod rule_file;
pub mod template;
pub mod unittest;

/// `../shared/conformance/rules` beside the workspace (as CI lays it out),
/// or under `$FERROPROM_SHARED_DIR` (for work trees elsewhere); `None`,
/// with a note printed, when neither exists so the tests that read the
/// upstream fixtures skip.
#[cfg(test)]
pub(crate) fn conformance_dir() -> Option<std::path::PathBuf> {
    let shared = std::env::var_os("FERROPROM_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = shared.join("conformance/rules");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} not found", dir.display());
        None
    }
}
