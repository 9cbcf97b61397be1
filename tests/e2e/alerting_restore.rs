//! Restoring the `for` clock after a crash: a pending alert's server is
//! killed with SIGKILL and restarted on the same data directory. As
//! Prometheus does (see "Restoring `for`" in the rules design notes), the
//! time spent pending before the crash counts and the downtime does not,
//! so `ALERTS_FOR_STATE` (the start of pending) moves forward by the
//! downtime; and no alert fires sooner than the grace period after the
//! restart.

use crate::common;

use std::time::Duration;

use common::{now_secs, poll, Server};

const CONFIG: &str = "global:\n  evaluation_interval: 1s\nrule_files: [alerts.yml]\n";

fn rules(hold: &str) -> String {
    format!(
        "groups:
- name: restore
  rules:
  - alert: Slow
    expr: vector(1)
    for: {hold}
    labels: {{severity: page}}
"
    )
}

const FOR_STATE: &str = "ALERTS_FOR_STATE{alertname=\"Slow\",severity=\"page\"}";
const FIRING: &str = "ALERTS{alertname=\"Slow\",alertstate=\"firing\"}";

/// What a run up to the crash and the restart observed.
struct Crash {
    /// `ALERTS_FOR_STATE` before the crash (start of pending, seconds).
    active_at: f64,
    /// Timestamp of the last `ALERTS_FOR_STATE` sample seen before it.
    last_seen: f64,
    killed_at: f64,
    restarted_at: f64,
    /// The restarted server.
    server: Server,
}

/// Starts a server whose alert has `for: hold`, waits until it has been
/// pending for `pending_secs`, kills it, waits `down` and restarts it on
/// the same directory.
fn crash_while_pending(hold: &str, grace: &str, pending_secs: f64, down: Duration) -> Crash {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alerts.yml"), rules(hold)).unwrap();
    let grace_flag = format!("--rules.alert.for-grace-period={grace}");
    let flags = [grace_flag.as_str(), "--rules.alert.for-outage-tolerance=1h"];
    let mut s = Server::start_in(dir, Some(CONFIG), &flags);
    let _log = s.keep_log();

    s.wait_for("ALERTS{alertstate=\"pending\"}", 20, |r| !r.is_empty());
    let active_at = s.raw_samples(FOR_STATE, "10m")[0].1;
    let last_seen = poll(40, "enough time pending", || {
        let last = s.raw_samples(FOR_STATE, "10m").last()?.0;
        (last >= active_at + pending_secs).then_some(last)
    });
    let before = s.raw_samples(FOR_STATE, "10m");
    assert!(before.iter().all(|&(_, v)| v == active_at), "{before:?}");
    assert!(
        s.raw_samples(FIRING, "10m").is_empty(),
        "fired before the crash"
    );

    let killed_at = now_secs();
    let dir = s.kill();
    // The downtime, part of the setup (the assertions below poll).
    std::thread::sleep(down);
    let restarted_at = now_secs();
    let mut server = Server::start_in(dir, Some(CONFIG), &flags);
    let _log = server.keep_log();
    Crash {
        active_at,
        last_seen,
        killed_at,
        restarted_at,
        server,
    }
}

impl Crash {
    /// The restored `ALERTS_FOR_STATE` value and the timestamp of its first
    /// sample after the restart (samples are written only once restored).
    fn restored(&self) -> (f64, f64) {
        let after = poll(30, "ALERTS_FOR_STATE after the restart", || {
            let after: Vec<(f64, f64)> = self
                .server
                .raw_samples(FOR_STATE, "10m")
                .into_iter()
                .filter(|&(t, _)| t > self.killed_at)
                .collect();
            (!after.is_empty()).then_some(after)
        });
        let value = after[0].1;
        assert!(after.iter().all(|&(_, v)| v == value), "{after:?}");
        (value, after[0].0)
    }

    /// The timestamp of the first firing sample after the restart.
    fn fired_at(&self) -> f64 {
        self.server.wait_for(FIRING, 40, |r| !r.is_empty());
        self.server
            .raw_samples(FIRING, "10m")
            .first()
            .map(|&(t, _)| t)
            .unwrap()
    }
}

#[test]
fn for_clock_survives_a_crash_minus_the_downtime() {
    // `for: 20s`, killed after more than half of it, down for 4s.
    let c = crash_while_pending("20s", "2s", 12.0, Duration::from_secs(4));
    let (restored, first_after) = c.restored();

    // Shifted by the downtime: at least the time the process was gone, at
    // most the gap between the samples around the crash (values are whole
    // seconds, hence the 1s slack).
    let shift = restored - c.active_at;
    let least = c.restarted_at - c.killed_at - 1.0;
    let most = first_after - c.last_seen + 1.0;
    assert!(
        (least..=most).contains(&shift),
        "ActiveAt {} restored as {restored}: shift {shift}, want {least}..={most}",
        c.active_at
    );

    // Fires `for` after the restored start: the time pending before the
    // crash counted, so well before 20s after the restart, and not
    // before the grace period.
    let fired = c.fired_at();
    assert!(
        (20.0..24.0).contains(&(fired - restored)),
        "fired at {fired}, restored ActiveAt {restored}"
    );
    assert!(
        fired >= c.restarted_at + 2.0,
        "fired within the grace period"
    );
    assert!(
        fired < c.restarted_at + 20.0,
        "fired at {fired}: the pending time before the crash was lost (restart at {})",
        c.restarted_at
    );
}

#[test]
fn short_remaining_for_waits_out_the_grace_period() {
    // `for: 12s`, killed after more than 7s: under 5s remain, less than
    // the 8s grace period, so it fires one grace period after the restore.
    let c = crash_while_pending("12s", "8s", 7.0, Duration::from_secs(3));
    let (restored, first_after) = c.restored();

    // Restored so that `for` ends grace (8s) after the restore ran, which
    // is after the restart and before the first sample written after it.
    let least = (c.restarted_at + 8.0 - 12.0).floor();
    let most = first_after + 8.0 - 12.0;
    assert!(
        (least..=most).contains(&restored),
        "restored ActiveAt {restored}, want {least}..={most} (was {})",
        c.active_at
    );
    assert!(
        restored > c.active_at + (c.restarted_at - c.killed_at),
        "more than the downtime was added"
    );

    let fired = c.fired_at();
    assert!(
        fired >= c.restarted_at + 8.0,
        "fired at {fired}, within the grace period after the restart at {}",
        c.restarted_at
    );
    assert!(
        (12.0..16.0).contains(&(fired - restored)),
        "fired at {fired}, restored ActiveAt {restored}"
    );
}
