//! How many shards a queue needs, from what it measures: the rate samples
//! come in, the shard time one sample costs to send, and how far behind
//! the queue is.
//!
//! The model (the same idea as Prometheus's shard calculation, written
//! here from the model, not the code): shards are busy for `cost` seconds
//! per sample sent, so keeping up with `in_rate` samples/s takes
//! `cost * in_rate` shards; a backlog of `lag` seconds (`in_rate * lag`
//! samples) is worked off over [`CATCH_UP`] on top of that. Rates are
//! smoothed (EWMA) over the update interval, and a change within
//! [`TOLERANCE`] of the current count is ignored so the queue does not
//! flap (each reshard drains all shards first).

/// Seconds over which a backlog should be worked off.
const CATCH_UP: f64 = 100.0;
/// Relative change below which the shard count stays.
const TOLERANCE: f64 = 0.3;
/// EWMA weight of the newest interval.
const ALPHA: f64 = 0.2;

/// Smoothed rates, fed cumulative totals once per interval.
#[derive(Debug, Default)]
pub(crate) struct ShardCalc {
    last: Option<(u64, u64, u64)>,
    in_rate: Option<f64>,
    out_rate: Option<f64>,
    /// Send seconds per second of wall time.
    busy: Option<f64>,
}

fn ewma(old: Option<f64>, new: f64) -> Option<f64> {
    Some(match old {
        None => new,
        Some(o) => o + ALPHA * (new - o),
    })
}

impl ShardCalc {
    /// Feeds the totals so far: samples read, samples sent, nanoseconds
    /// spent in successful sends; `secs` since the previous call.
    pub(crate) fn update(&mut self, samples_in: u64, samples_out: u64, send_nanos: u64, secs: f64) {
        if let Some((i, o, n)) = self.last {
            if secs > 0.0 {
                let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
                self.in_rate = ewma(self.in_rate, rate(samples_in, i));
                self.out_rate = ewma(self.out_rate, rate(samples_out, o));
                self.busy = ewma(self.busy, rate(send_nanos, n) / 1e9);
            }
        }
        self.last = Some((samples_in, samples_out, send_nanos));
    }

    /// The shard count wanted, `current` if there is not enough to go on
    /// (nothing sent yet) or the change is within tolerance.
    pub(crate) fn desired(&self, current: usize, min: usize, max: usize, lag_secs: f64) -> usize {
        let (Some(in_rate), Some(out_rate), Some(busy)) = (self.in_rate, self.out_rate, self.busy)
        else {
            return current.clamp(min, max);
        };
        if out_rate <= 0.0 {
            return current.clamp(min, max);
        }
        let cost = busy / out_rate;
        let backlog = in_rate * lag_secs.max(0.0);
        let want = cost * (in_rate + backlog / CATCH_UP);
        let cur = current as f64;
        if want >= cur * (1.0 - TOLERANCE) && want <= cur * (1.0 + TOLERANCE) {
            return current.clamp(min, max);
        }
        // Less a hair, so 4.000000000001 (float noise) asks for 4.
        ((want - 1e-9).ceil().max(0.0) as usize).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `steps` intervals of 10 s with the given per-second rates.
    fn run(calc: &mut ShardCalc, steps: u64, in_rate: u64, out_rate: u64, busy: f64) {
        let mut t = calc.last.unwrap_or((0, 0, 0));
        if calc.last.is_none() {
            calc.update(0, 0, 0, 10.0);
        }
        for _ in 0..steps {
            t.0 += in_rate * 10;
            t.1 += out_rate * 10;
            t.2 += (busy * 10.0 * 1e9) as u64;
            calc.update(t.0, t.1, t.2, 10.0);
        }
    }

    #[test]
    fn no_data_keeps_the_current_count() {
        let calc = ShardCalc::default();
        assert_eq!(calc.desired(3, 1, 50, 100.0), 3);
        assert_eq!(calc.desired(0, 1, 50, 0.0), 1);
    }

    #[test]
    fn scales_with_cost_and_lag() {
        let mut calc = ShardCalc::default();
        // One shard busy all the time sending 10k/s while 40k/s come in:
        // 1e-4 s per sample, so 4 shards keep up, more while behind.
        run(&mut calc, 30, 40_000, 10_000, 1.0);
        assert_eq!(calc.desired(1, 1, 50, 0.0), 4);
        assert!(calc.desired(1, 1, 50, 300.0) > 4);
        assert_eq!(calc.desired(1, 1, 3, 0.0), 3, "capped at max");
        // Within 30 % of the current count: no change.
        assert_eq!(calc.desired(5, 1, 50, 0.0), 5);
        // Idle senders scale down to min.
        let mut calc = ShardCalc::default();
        run(&mut calc, 30, 1_000, 1_000, 0.01);
        assert_eq!(calc.desired(10, 2, 50, 0.0), 2);
    }
}
