//! Size limits on the label sets a remote-write request may carry.
//!
//! A series is refused (400) before storage sees it, so a hostile or broken
//! sender cannot make the head intern, index and keep huge label sets: one
//! series of a million labels used to be accepted and held 1 GB. The
//! defaults are far above what real exporters and Prometheus's sender
//! produce (a few dozen labels, names of tens of bytes, values rarely over
//! a few hundred), so only abuse reaches them.

/// Per-series label limits of the remote-write receiver; 0 disables one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelLimits {
    /// Most labels per series, `__name__` included.
    pub max_labels: usize,
    /// Longest label name, in bytes.
    pub max_name_len: usize,
    /// Longest label value, in bytes.
    pub max_value_len: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels: 200,
            max_name_len: 1024,
            max_value_len: 64 * 1024,
        }
    }
}

impl LabelLimits {
    /// Why `labels` exceeds a limit, or `None`. The count is checked first
    /// so a huge label set is refused without looking at its labels.
    pub fn check(&self, labels: &[(&str, &str)]) -> Option<String> {
        let over = |n: usize, limit: usize| limit > 0 && n > limit;
        if over(labels.len(), self.max_labels) {
            return Some(format!(
                "{} labels, more than the limit of {}",
                labels.len(),
                self.max_labels
            ));
        }
        for &(name, value) in labels {
            if over(name.len(), self.max_name_len) {
                return Some(format!(
                    "label name of {} bytes, more than the limit of {}",
                    name.len(),
                    self.max_name_len
                ));
            }
            if over(value.len(), self.max_value_len) {
                return Some(format!(
                    "value of label {:?} is {} bytes, more than the limit of {}",
                    shorten(name),
                    value.len(),
                    self.max_value_len
                ));
            }
        }
        None
    }
}

/// At most this many bytes of a name or value go into a message.
const SHOWN: usize = 64;

/// `s` cut to [`SHOWN`] bytes (on a char boundary) with `…` when cut, so
/// messages about oversized labels stay small.
pub(crate) fn shorten(s: &str) -> String {
    if s.len() <= SHOWN {
        return s.to_string();
    }
    let mut end = SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let l = LabelLimits {
            max_labels: 2,
            max_name_len: 3,
            max_value_len: 4,
        };
        assert_eq!(l.check(&[("__n", "m"), ("a", "1")]), None);
        assert_eq!(
            l.check(&[("a", ""), ("b", ""), ("c", "")]).unwrap(),
            "3 labels, more than the limit of 2"
        );
        assert_eq!(
            l.check(&[("abcd", "1")]).unwrap(),
            "label name of 4 bytes, more than the limit of 3"
        );
        assert_eq!(
            l.check(&[("a", "12345")]).unwrap(),
            "value of label \"a\" is 5 bytes, more than the limit of 4"
        );
        let off = LabelLimits {
            max_labels: 0,
            max_name_len: 0,
            max_value_len: 0,
        };
        assert_eq!(off.check(&[("abcd", "12345"), ("b", ""), ("c", "")]), None);
    }

    #[test]
    fn shorten_cuts_on_char_boundaries() {
        assert_eq!(shorten("abc"), "abc");
        let long = "é".repeat(40);
        let s = shorten(&long);
        assert!(s.ends_with('…') && s.len() <= SHOWN + '…'.len_utf8());
    }
}
