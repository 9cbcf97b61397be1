//! Retry delays: exponential from `min_backoff`, doubling up to
//! `max_backoff`, with a receiver's `Retry-After` taking precedence.

use std::time::Duration;

/// The delay before each retry of one batch.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The delay before the next attempt; doubles the one after it.
    /// `retry_after` (from a 429 or 503) replaces the computed delay but
    /// still advances the sequence, as a receiver asking for patience is
    /// also a sign of overload.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        if self.next.is_zero() {
            self.next = self.min;
        }
        retry_after.unwrap_or(d)
    }

    /// Back to `min_backoff` (after a success).
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
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
    fn doubles_to_the_cap_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(30), ms(200));
        let got: Vec<_> = (0..6).map(|_| b.next_delay(None)).collect();
        assert_eq!(got, [ms(30), ms(60), ms(120), ms(200), ms(200), ms(200)]);
        b.reset();
        assert_eq!(b.next_delay(None), ms(30));
        assert_eq!(b.next_delay(Some(ms(7))), ms(7));
        assert_eq!(b.next_delay(None), ms(120));
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
