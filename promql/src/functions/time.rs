//! UTC calendar functions (`year`, `month`, `hour`, …) on Unix timestamps.

/// Days since 1970-01-01 to proleptic Gregorian `(year, month 1–12, day)`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days end each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn day_of_year(year: i64, month: u32, day: u32) -> u32 {
    (1..month).map(|m| days_in(year, m)).sum::<u32>() + day
}

/// The calendar field `name` of the UTC time `t_seconds` seconds after the
/// Unix epoch. The timestamp is truncated towards zero to whole seconds (as
/// Prometheus converts it to an integer); NaN and ±Inf give NaN. `None` for
/// an unknown name. Days of the week count from Sunday = 0.
pub fn date_part(name: &str, t_seconds: f64) -> Option<f64> {
    let known = matches!(
        name,
        "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "days_in_month"
            | "hour"
            | "minute"
            | "month"
            | "year"
    );
    if !known {
        return None;
    }
    if !t_seconds.is_finite() {
        return Some(f64::NAN);
    }
    let secs = t_seconds as i64; // truncates towards zero, saturating
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let v = match name {
        "day_of_month" => day as f64,
        // 1970-01-01 was a Thursday (4).
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => day_of_year(year, month, day) as f64,
        "days_in_month" => days_in(year, month) as f64,
        "hour" => (sod / 3600) as f64,
        "minute" => (sod % 3600 / 60) as f64,
        "month" => month as f64,
        _ => year as f64,
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, t: f64) -> f64 {
        date_part(name, t).unwrap()
    }

    #[test]
    fn epoch_and_functions_test_values() {
        assert_eq!(p("year", 0.0), 1970.0);
        assert_eq!(p("day_of_week", 0.0), 4.0);
        let t = 1136239445.0; // 2006-01-02 22:04:05 Monday
        assert_eq!(p("year", t), 2006.0);
        assert_eq!(p("month", t), 1.0);
        assert_eq!(p("day_of_month", t), 2.0);
        assert_eq!(p("day_of_year", t), 2.0);
        assert_eq!(p("day_of_week", t), 1.0);
        assert_eq!(p("hour", t), 22.0);
        assert_eq!(p("minute", t), 4.0);
        assert_eq!(p("year", 1230767999.0), 2008.0);
        assert_eq!(p("year", 1230768000.0), 2009.0);
        assert_eq!(p("month", 1456790399.0), 2.0);
        assert_eq!(p("day_of_month", 1456790399.0), 29.0);
        assert_eq!(p("month", 1456790400.0), 3.0);
        assert_eq!(p("day_of_month", 1456790400.0), 1.0);
        assert_eq!(p("day_of_year", 1483191420.0), 366.0);
        assert_eq!(p("day_of_year", 1672493820.0), 365.0);
        assert_eq!(p("days_in_month", 1454284800.0), 29.0);
        assert_eq!(p("days_in_month", 1485907200.0), 28.0);
    }

    #[test]
    fn leap_years() {
        // 2000-02-29 12:00:00 (divisible by 400: leap).
        let t = 951_825_600.0;
        assert_eq!(
            (p("year", t), p("month", t), p("day_of_month", t)),
            (2000.0, 2.0, 29.0)
        );
        assert_eq!(p("days_in_month", t), 29.0);
        assert_eq!(p("day_of_year", t), 60.0);
        assert_eq!(p("day_of_week", t), 2.0); // Tuesday
                                              // 1900-02-01 (divisible by 100 only: not leap).
        let t = -2_206_310_400.0;
        assert_eq!(
            (p("year", t), p("month", t), p("day_of_month", t)),
            (1900.0, 2.0, 1.0)
        );
        assert_eq!(p("days_in_month", t), 28.0);
        // 2000-12-31: day 366.
        assert_eq!(p("day_of_year", 978_220_800.0), 366.0);
    }

    #[test]
    fn negative_timestamps() {
        let t = -1.0; // 1969-12-31 23:59:59 Wednesday
        assert_eq!(p("year", t), 1969.0);
        assert_eq!(p("month", t), 12.0);
        assert_eq!(p("day_of_month", t), 31.0);
        assert_eq!(p("day_of_year", t), 365.0);
        assert_eq!(p("day_of_week", t), 3.0);
        assert_eq!(p("hour", t), 23.0);
        assert_eq!(p("minute", t), 59.0);
        // Fractions truncate towards zero: −0.5 is the epoch itself.
        assert_eq!(p("year", -0.5), 1970.0);
        assert_eq!(p("hour", -1.9), 23.0);
        // 1969-01-01 00:00:00
        assert_eq!(p("day_of_year", -31_536_000.0), 1.0);
        assert_eq!(p("day_of_week", -31_536_000.0), 3.0);
    }

    #[test]
    fn non_finite_and_unknown() {
        assert!(p("year", f64::NAN).is_nan());
        assert!(p("hour", f64::INFINITY).is_nan());
        assert!(p("month", f64::NEG_INFINITY).is_nan());
        assert_eq!(date_part("second", 0.0), None);
        assert_eq!(date_part("nope", f64::NAN), None);
    }
}
