//! Retry delays for one request: exponential from `min_backoff`, doubling
//! up to `max_backoff`, with a receiver's `Retry-After` taking precedence
//! (Prometheus 2.42's rules).

use std::time::Duration;

/// The delay before each retry of one batch.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            max: max.max(min),
            next: min,
        }
    }

    /// The delay before the next attempt. `retry_after` (a 429's
    /// `Retry-After`) replaces the computed delay; the delay after it is
    /// twice whichever was used, capped at `max_backoff`, as in Prometheus.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let d = retry_after.unwrap_or(self.next);
        self.next = d.saturating_mul(2).min(self.max);
        d
    }
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (relative to now;
/// a date in the past means "now").
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now = chrono::Utc::now();
    let ms = (when.timestamp_millis() - now.timestamp_millis()).max(0);
    Some(Duration::from_millis(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(30), ms(200));
        let got: Vec<_> = (0..6).map(|_| b.next_delay(None)).collect();
        assert_eq!(got, [ms(30), ms(60), ms(120), ms(200), ms(200), ms(200)]);
    }

    #[test]
    fn retry_after_replaces_the_delay_and_the_doubling_continues_from_it() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(30), ms(5000));
        assert_eq!(b.next_delay(None), ms(30));
        assert_eq!(b.next_delay(Some(ms(1000))), ms(1000));
        assert_eq!(b.next_delay(None), ms(2000));
        assert_eq!(b.next_delay(Some(ms(7))), ms(7));
        assert_eq!(b.next_delay(None), ms(14));
        // Longer than max_backoff: honoured, the next one capped.
        assert_eq!(b.next_delay(Some(ms(9000))), ms(9000));
        assert_eq!(b.next_delay(None), ms(5000));
    }

    #[test]
    fn zero_min_still_backs_off_with_the_cap() {
        let mut b = Backoff::new(Duration::ZERO, Duration::from_secs(1));
        assert_eq!(b.next_delay(None), Duration::ZERO);
        assert_eq!(b.next_delay(None), Duration::ZERO);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = chrono::Utc::now() + chrono::Duration::seconds(100);
        let d = parse_retry_after(&later.to_rfc2822()).unwrap();
        assert!(d > Duration::from_secs(90) && d <= Duration::from_secs(100));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
