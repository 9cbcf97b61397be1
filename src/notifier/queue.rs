//! The bounded queue between whoever raises alerts and the send loop.
//! When it is full the oldest alerts go first: a newer notification about
//! an alert supersedes an older one, so the newest are the ones to keep.

use std::collections::VecDeque;

use super::Alert;

/// At most `capacity` alerts, oldest first.
#[derive(Debug)]
pub(crate) struct Queue {
    alerts: VecDeque<Alert>,
    capacity: usize,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue {
            alerts: VecDeque::new(),
            capacity,
        }
    }

    /// Appends `alerts`, dropping the oldest (queued first, then the
    /// oldest of `alerts` themselves) beyond the capacity. Returns how many
    /// were dropped.
    pub(crate) fn push(&mut self, alerts: Vec<Alert>) -> usize {
        let skip = alerts.len().saturating_sub(self.capacity);
        let overflow = (self.alerts.len() + alerts.len() - skip).saturating_sub(self.capacity);
        self.alerts.drain(..overflow);
        self.alerts.extend(alerts.into_iter().skip(skip));
        skip + overflow
    }

    /// Takes up to `max` of the oldest alerts.
    pub(crate) fn pop_batch(&mut self, max: usize) -> Vec<Alert> {
        let n = max.min(self.alerts.len());
        self.alerts.drain(..n).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.alerts.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use storage::Label;

    use super::*;

    fn alerts(range: std::ops::Range<usize>) -> Vec<Alert> {
        range
            .map(|i| Alert {
                labels: vec![Label::new("n", i.to_string())],
                annotations: Vec::new(),
                starts_at: UNIX_EPOCH,
                ends_at: None,
                generator_url: String::new(),
            })
            .collect()
    }

    fn numbers(batch: &[Alert]) -> Vec<usize> {
        batch
            .iter()
            .map(|a| a.labels[0].value.parse().unwrap())
            .collect()
    }

    #[test]
    fn overflow_drops_the_oldest() {
        let mut q = Queue::new(10);
        assert_eq!(q.push(alerts(0..6)), 0);
        assert_eq!(q.push(alerts(6..14)), 4);
        assert_eq!(q.len(), 10);
        assert_eq!(numbers(&q.pop_batch(100)), (4..14).collect::<Vec<_>>());
        // More than the capacity at once: only the newest fit.
        assert_eq!(q.push(alerts(0..3)), 0);
        assert_eq!(q.push(alerts(100..125)), 18);
        assert_eq!(numbers(&q.pop_batch(100)), (115..125).collect::<Vec<_>>());
    }

    #[test]
    fn batches_take_the_oldest_first() {
        let mut q = Queue::new(10_000);
        q.push(alerts(0..600));
        let sizes: Vec<usize> = std::iter::from_fn(|| Some(q.pop_batch(256)))
            .take_while(|b| !b.is_empty())
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [256, 256, 88]);
        q.push(alerts(0..3));
        assert_eq!(numbers(&q.pop_batch(2)), [0, 1]);
        assert_eq!(q.len(), 1);
    }
}
