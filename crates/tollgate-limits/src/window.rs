//! Calendar budget windows and OpenAI-style durations: pure functions, no state.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use tollgate_core::spec::Period;

/// The budget window of `period` that contains `now`: `(start, end)`.
///
/// Periods are calendar periods in UTC (PRODUCT.md: "Periods are calendar periods in
/// UTC; weeks start on Monday"), so every node and the database agree on which window
/// a spend belongs to without coordinating. `end` is the instant the budget resets
/// (`resets_at` in a 402); `total` never resets, so its end is `None` and its start is
/// the Unix epoch.
///
/// The Redis backend computes the same windows inside its Lua scripts from the Redis
/// server's clock; a test checks that both implementations agree.
pub fn window(period: Period, now: DateTime<Utc>) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let date = now.date_naive();
    match period {
        Period::Total => (DateTime::UNIX_EPOCH, None),
        Period::Daily => (midnight(date), date.succ_opt().map(midnight)),
        Period::Weekly => {
            let back = Days::new(u64::from(date.weekday().num_days_from_monday()));
            let start = date.checked_sub_days(back).unwrap_or(date);
            (
                midnight(start),
                start.checked_add_days(Days::new(7)).map(midnight),
            )
        }
        Period::Monthly => {
            let start = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
            (
                midnight(start),
                start.checked_add_months(Months::new(1)).map(midnight),
            )
        }
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// The name a period has in the config file, also used in Redis key names.
pub(crate) fn period_name(p: Period) -> &'static str {
    match p {
        Period::Daily => "daily",
        Period::Weekly => "weekly",
        Period::Monthly => "monthly",
        Period::Total => "total",
    }
}

/// A duration the way OpenAI writes `x-ratelimit-reset-*` (Go's `Duration.String`,
/// at millisecond precision): `"20ms"`, `"1s"`, `"1.5s"`, `"6m0s"`, `"1h2m3s"`.
///
/// Rounded *up* to the millisecond so that a client that waits exactly this long is
/// never early.
pub fn format_reset(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000);
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms / 60_000) % 60;
    let sec_ms = ms % 60_000;
    let secs = if sec_ms.is_multiple_of(1000) {
        format!("{}s", sec_ms / 1000)
    } else {
        let frac = format!("{:03}", sec_ms % 1000);
        format!("{}.{}s", sec_ms / 1000, frac.trim_end_matches('0'))
    };
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}")
    } else if minutes > 0 {
        format!("{minutes}m{secs}")
    } else {
        secs
    }
}

/// `Retry-After` in whole seconds, rounded up (PRODUCT.md), and at least 1: a denied
/// request always has to wait for something.
pub fn retry_after_secs(d: Duration) -> u64 {
    let s = d.as_nanos().div_ceil(1_000_000_000);
    u64::try_from(s).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    #[test]
    fn formats_like_openai() {
        assert_eq!(format_reset(Duration::ZERO), "0s");
        assert_eq!(format_reset(Duration::from_millis(20)), "20ms");
        assert_eq!(format_reset(Duration::from_micros(19_001)), "20ms");
        assert_eq!(format_reset(Duration::from_nanos(1)), "1ms");
        assert_eq!(format_reset(Duration::from_secs(1)), "1s");
        assert_eq!(format_reset(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_reset(Duration::from_millis(1234)), "1.234s");
        assert_eq!(format_reset(Duration::from_secs(360)), "6m0s");
        assert_eq!(format_reset(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format_reset(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_reset(Duration::from_millis(61_050)), "1m1.05s");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn calendar_windows() {
        // Thursday 29 February 2024 (a leap day), 13:45:10 UTC.
        let now = t(2024, 2, 29, 13, 45, 10);
        assert_eq!(
            window(Period::Daily, now),
            (t(2024, 2, 29, 0, 0, 0), Some(t(2024, 3, 1, 0, 0, 0)))
        );
        assert_eq!(
            window(Period::Weekly, now),
            (t(2024, 2, 26, 0, 0, 0), Some(t(2024, 3, 4, 0, 0, 0)))
        );
        assert_eq!(
            window(Period::Monthly, now),
            (t(2024, 2, 1, 0, 0, 0), Some(t(2024, 3, 1, 0, 0, 0)))
        );
        assert_eq!(window(Period::Total, now), (DateTime::UNIX_EPOCH, None));
        // A Monday belongs to its own week; a Sunday to the week before.
        let monday = t(2024, 3, 4, 0, 0, 0);
        assert_eq!(window(Period::Weekly, monday).0, monday);
        let sunday = t(2024, 3, 3, 23, 59, 59);
        assert_eq!(window(Period::Weekly, sunday).0, t(2024, 2, 26, 0, 0, 0));
        // December rolls into the next year.
        let dec = t(2023, 12, 31, 23, 59, 59);
        assert_eq!(
            window(Period::Monthly, dec),
            (t(2023, 12, 1, 0, 0, 0), Some(t(2024, 1, 1, 0, 0, 0)))
        );
        // The end instant belongs to the next window.
        let (_, end) = window(Period::Daily, now);
        assert_eq!(window(Period::Daily, end.unwrap()).0, end.unwrap());
    }
}
