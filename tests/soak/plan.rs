//! The soak's size and schedule, from environment variables. The full run
//! (30 minutes, 200,000 series) is the model; a shorter run compresses its
//! clock, so every periodic event (scrapes, churn, reloads) still happens
//! the same number of times, or as near as a one-second scrape floor allows.

use std::time::Duration;

/// Length of the full run the schedule is modelled on.
const FULL_SECS: f64 = 1800.0;
/// Series per synthetic target at most, as one large exporter.
const SERIES_PER_TARGET: usize = 25_000;

/// Everything the soak's parts need to know about its size and pace.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Length of the load phase (the restart included).
    pub run: Duration,
    /// Scraped series across all targets (a multiple of the group size).
    pub series: usize,
    /// Synthetic scrape targets the series are spread over.
    pub targets: usize,
    /// Model seconds per real second (15 in a 2-minute run, 1 at full size).
    pub compression: f64,
    pub scrape_interval: Duration,
    /// Fraction of the series (whole pods) replaced per real second.
    pub churn_per_sec: f64,
    pub reload_every: Duration,
    /// Dashboard refresh period: every panel is queried once per refresh.
    pub refresh_every: Duration,
    /// Series the remote-write client writes, one sample each per interval.
    pub remote_series: usize,
    /// Series the remote-write client backfills before the scrapes start.
    pub backfill_series: usize,
    /// How often RSS is read from /proc (the server's /metrics every 5th).
    pub sample_every: Duration,
    /// Where to write the figures, besides stdout.
    pub report: Option<std::path::PathBuf>,
}

impl Plan {
    /// Reads `FERROPROM_SOAK_SECS` (default 120), `FERROPROM_SOAK_SERIES`
    /// (default 20,000) and `FERROPROM_SOAK_REPORT` (a file for the
    /// figures; none by default).
    pub fn from_env() -> Plan {
        let secs: u64 = env_number("FERROPROM_SOAK_SECS", 120);
        let series: usize = env_number("FERROPROM_SOAK_SERIES", 20_000);
        assert!(secs >= 60, "FERROPROM_SOAK_SECS must be at least 60");
        Plan::new(
            secs,
            series,
            std::env::var_os("FERROPROM_SOAK_REPORT").map(Into::into),
        )
    }

    fn new(secs: u64, series: usize, report: Option<std::path::PathBuf>) -> Plan {
        let groups = (series / super::targets::SERIES_PER_GROUP).max(4);
        let series = groups * super::targets::SERIES_PER_GROUP;
        let compression = (FULL_SECS / secs as f64).max(1.0);
        let scaled = |model_secs: f64, floor_secs: f64| {
            Duration::from_secs_f64((model_secs / compression).max(floor_secs))
        };
        Plan {
            run: Duration::from_secs(secs),
            series,
            targets: series.div_ceil(SERIES_PER_TARGET).clamp(4, 16),
            compression,
            scrape_interval: scaled(15.0, 1.0),
            // 5% of the series per (model) hour.
            churn_per_sec: 0.05 / 3600.0 * compression,
            reload_every: scaled(300.0, 5.0),
            refresh_every: scaled(5.0, 2.0),
            remote_series: (series / 20).max(100),
            backfill_series: 100,
            sample_every: Duration::from_secs(if secs > 600 { 2 } else { 1 }),
            report,
        }
    }

    /// Range-vector window of the dashboard's rates: four scrapes.
    pub fn rate_window(&self) -> String {
        format!("{}s", 4 * self.scrape_interval.as_secs().max(1))
    }

    /// Warm-up after a (re)start, excluded from the RSS criterion: 10% of
    /// the run.
    pub fn warm_up(&self) -> Duration {
        self.run / 10
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn short_runs_compress_the_full_schedule() {
    let full = Plan::new(1800, 200_000, None);
    assert_eq!(full.scrape_interval, Duration::from_secs(15));
    assert_eq!(full.reload_every, Duration::from_secs(300));
    assert_eq!((full.series, full.targets), (200_000, 8));
    let ci = Plan::new(120, 20_000, None);
    assert_eq!(ci.scrape_interval, Duration::from_secs(1));
    assert_eq!(ci.reload_every, Duration::from_secs(20));
    // The same share of series churns over either run: 2.5%.
    let share = |p: &Plan| p.churn_per_sec * p.run.as_secs_f64();
    assert!((share(&full) - 0.025).abs() < 1e-9 && (share(&ci) - 0.025).abs() < 1e-9);
}
