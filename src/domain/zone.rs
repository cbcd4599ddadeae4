//! A time zone's rules as data a phone can take: standard offset, summer-time rule, POSIX TZ.
//!
//! Phones do not carry the IANA database; each wants the zone's rule spelled out in its own
//! format (a POSIX TZ string, month/week/weekday fields, …). The rule is derived from
//! chrono-tz by scanning one fixed reference year for offset changes, so the output does not
//! depend on the clock: the same settings always render the same bytes.
//!
//! What a recurring "nth weekday of the month" rule cannot say is lost: a zone whose dates
//! follow another calendar (Morocco's Ramadan break) is reported without summer time, and a
//! rule such as Chile's "first Sunday on or after the 2nd" comes out as the week the change
//! falls in during the reference year.

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz};

/// The year scanned for offset changes.
pub const REFERENCE_YEAR: i32 = 2025;

const WEEK_SECONDS: i64 = 7 * 86_400;

/// One end of the summer-time period, as a recurring rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstTransition {
    /// Month, 1–12.
    pub month: u32,
    /// Week of the month, 1–4, or 5 for the last one.
    pub week: u32,
    /// Weekday, 0 = Sunday … 6 = Saturday.
    pub weekday: u32,
    /// Local time of day in minutes since midnight, on the clock in force just before the
    /// change (standard time for the start, summer time for the end).
    pub minutes: u32,
}

/// A zone's summer-time rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstRule {
    /// Minutes the clock goes forward in summer.
    pub save_minutes: i32,
    /// When summer time begins.
    pub start: DstTransition,
    /// When summer time ends.
    pub end: DstTransition,
}

/// What a phone needs to know about a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRules {
    /// Standard (winter) offset from UTC in seconds.
    pub std_offset_seconds: i32,
    /// Whether the offset differs between January and July.
    pub observes_dst: bool,
    /// The summer-time rule; `None` without summer time or when it is not a recurring rule.
    pub dst: Option<DstRule>,
    /// Abbreviation of standard time (`CET`), when the database has a real one.
    pub std_abbr: Option<String>,
    /// Abbreviation of summer time (`CEST`), when the database has a real one.
    pub dst_abbr: Option<String>,
}

/// An offset change: the first second of the new offset and the offsets either side.
#[derive(Debug, Clone, Copy)]
struct Change {
    at: i64,
    before: i32,
    after: i32,
}

impl ZoneRules {
    /// The rules of `tz` in the reference year.
    pub fn of(tz: Tz) -> Self {
        Self::in_year(tz, REFERENCE_YEAR)
    }

    /// The rules of `tz` as observed in `year`.
    pub fn in_year(tz: Tz, year: i32) -> Self {
        let probe = |month| utc_seconds(year, month, 1) + 12 * 3600;
        let (jan, jul) = (probe(1), probe(7));
        let (jan_offset, jul_offset) = (offset_at(tz, jan), offset_at(tz, jul));
        let (std_at, dst_at) = if jan_offset <= jul_offset {
            (jan, jul)
        } else {
            (jul, jan)
        };
        let std_offset_seconds = jan_offset.min(jul_offset);
        let observes_dst = jan_offset != jul_offset;
        let dst = if observes_dst {
            rule_from_changes(
                &changes_in(tz, year),
                std_offset_seconds,
                jan_offset.max(jul_offset),
            )
        } else {
            None
        };
        Self {
            std_offset_seconds,
            observes_dst,
            std_abbr: abbreviation_at(tz, std_at),
            dst_abbr: dst.and_then(|_| abbreviation_at(tz, dst_at)),
            dst,
        }
    }

    /// The POSIX TZ string in its shortest form (`CET-1CEST,M3.5.0,M10.5.0/3`): the summer
    /// offset only when it is not one hour ahead, change times only when not 02:00.
    pub fn posix_tz(&self) -> String {
        let mut out = self.posix_standard();
        if let Some(rule) = &self.dst {
            let dst_offset = self.std_offset_seconds + rule.save_minutes * 60;
            out.push_str(&posix_name(self.dst_abbr.as_deref(), dst_offset));
            if rule.save_minutes != 60 {
                out.push_str(&posix_offset(dst_offset));
            }
            for change in [rule.start, rule.end] {
                out.push_str(&format!(",{}", posix_date(change)));
                if change.minutes != 120 {
                    out.push('/');
                    out.push_str(&hours_minutes(change.minutes));
                }
            }
        }
        out
    }

    /// The POSIX TZ string with every part spelled out
    /// (`CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00`), the form some phones list.
    pub fn posix_tz_explicit(&self) -> String {
        self.spelled_out(posix_name)
    }

    /// [`Self::posix_tz_explicit`] with `STD` and `DST` for names the database has no letters
    /// for (`STD3` rather than `<-03>3`): for phones whose field takes only letters, digits and
    /// `+-,./:`.
    pub fn posix_tz_letters(&self) -> String {
        self.spelled_out(|abbr, offset| match abbr {
            Some(a) => a.to_owned(),
            None if offset == self.std_offset_seconds => "STD".to_owned(),
            None => "DST".to_owned(),
        })
    }

    fn spelled_out(&self, name: impl Fn(Option<&str>, i32) -> String) -> String {
        let std = self.std_offset_seconds;
        let mut out = format!(
            "{}{}",
            name(self.std_abbr.as_deref(), std),
            posix_offset(std)
        );
        if let Some(rule) = &self.dst {
            let dst_offset = std + rule.save_minutes * 60;
            out.push_str(&name(self.dst_abbr.as_deref(), dst_offset));
            out.push_str(&posix_offset(dst_offset));
            for change in [rule.start, rule.end] {
                let (h, m) = (change.minutes / 60, change.minutes % 60);
                out.push_str(&format!(",{}/{h:02}:{m:02}:00", posix_date(change)));
            }
        }
        out
    }

    fn posix_standard(&self) -> String {
        let offset = self.std_offset_seconds;
        format!(
            "{}{}",
            posix_name(self.std_abbr.as_deref(), offset),
            posix_offset(offset)
        )
    }
}

/// Seconds since the epoch of 00:00 UTC on the given day.
fn utc_seconds(year: i32, month: u32, day: u32) -> i64 {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default()
}

fn offset_at(tz: Tz, at: i64) -> i32 {
    let utc = DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .naive_utc();
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// The database's abbreviation at `at`, if it is a real one (chrono-tz has none for numeric
/// names such as `+0530`) that POSIX accepts unquoted.
fn abbreviation_at(tz: Tz, at: i64) -> Option<String> {
    let utc = DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc);
    offset
        .abbreviation()
        .filter(|a| a.len() >= 3 && a.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_owned)
}

/// Every offset change in `year`: probed weekly, then pinned to the second by bisection.
fn changes_in(tz: Tz, year: i32) -> Vec<Change> {
    let (from, to) = (utc_seconds(year, 1, 1), utc_seconds(year + 1, 1, 1));
    let mut changes = Vec::new();
    let mut lo = from;
    let mut lo_offset = offset_at(tz, lo);
    while lo < to {
        let hi = (lo + WEEK_SECONDS).min(to);
        let hi_offset = offset_at(tz, hi);
        if hi_offset != lo_offset {
            let (mut a, mut b) = (lo, hi);
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                if offset_at(tz, mid) == lo_offset {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            changes.push(Change {
                at: b,
                before: lo_offset,
                after: offset_at(tz, b),
            });
        }
        lo = hi;
        lo_offset = hi_offset;
    }
    changes
}

/// The rule when the year has exactly one change into summer time and one out of it.
fn rule_from_changes(changes: &[Change], std: i32, dst: i32) -> Option<DstRule> {
    let [first, second] = changes else {
        return None;
    };
    let (start, end) = if first.after > first.before {
        (first, second)
    } else {
        (second, first)
    };
    let expected =
        start.before == std && start.after == dst && end.before == dst && end.after == std;
    expected.then(|| DstRule {
        save_minutes: (dst - std) / 60,
        start: transition(start),
        end: transition(end),
    })
}

/// The change as a recurring rule, read on the clock in force just before it.
fn transition(change: &Change) -> DstTransition {
    let local = DateTime::from_timestamp(change.at + i64::from(change.before), 0)
        .unwrap_or_default()
        .naive_utc();
    let day = local.day();
    let days_in_month = days_in_month(local.year(), local.month());
    // A day in the month's last seven is read as "last": that is how rules in these weeks are
    // written (the EU's last Sunday, New Zealand's last Sunday of September), while "fourth"
    // rules that land there are rare.
    let week = if day + 7 > days_in_month {
        5
    } else {
        (day - 1) / 7 + 1
    };
    DstTransition {
        month: local.month(),
        week,
        weekday: local.weekday().num_days_from_sunday(),
        minutes: local.hour() * 60 + local.minute(),
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(31)
}

/// `abbr`, or the numeric name in angle brackets (`<+0530>`, `<-03>`) POSIX allows.
fn posix_name(abbr: Option<&str>, offset_seconds: i32) -> String {
    match abbr {
        Some(a) => a.to_owned(),
        None => {
            let sign = if offset_seconds < 0 { '-' } else { '+' };
            let minutes = offset_seconds.unsigned_abs() / 60;
            match minutes % 60 {
                0 => format!("<{sign}{:02}>", minutes / 60),
                m => format!("<{sign}{:02}{m:02}>", minutes / 60),
            }
        }
    }
}

/// POSIX counts hours west of UTC: UTC+1 is `-1`, UTC-3:30 is `3:30`.
fn posix_offset(offset_seconds: i32) -> String {
    let sign = if offset_seconds > 0 { "-" } else { "" };
    format!(
        "{sign}{}",
        hours_minutes(offset_seconds.unsigned_abs() / 60)
    )
}

fn hours_minutes(minutes: u32) -> String {
    match minutes % 60 {
        0 => format!("{}", minutes / 60),
        m => format!("{}:{m:02}", minutes / 60),
    }
}

fn posix_date(t: DstTransition) -> String {
    format!("M{}.{}.{}", t.month, t.week, t.weekday)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(name: &str) -> ZoneRules {
        ZoneRules::of(name.parse().unwrap())
    }

    fn at(month: u32, week: u32, weekday: u32, minutes: u32) -> DstTransition {
        DstTransition {
            month,
            week,
            weekday,
            minutes,
        }
    }

    fn assert_zone(name: &str, posix: &str, explicit: &str, dst: Option<DstRule>) {
        let r = rules(name);
        assert_eq!(r.dst, dst, "{name}");
        assert_eq!(r.observes_dst, dst.is_some(), "{name}");
        assert_eq!(r.posix_tz(), posix, "{name}");
        assert_eq!(r.posix_tz_explicit(), explicit, "{name}");
    }

    #[test]
    fn european_rules_change_at_one_utc() {
        assert_zone(
            "Europe/Berlin",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(3, 5, 0, 120),
                end: at(10, 5, 0, 180),
            }),
        );
        assert_zone(
            "Europe/London",
            "GMT0BST,M3.5.0/1,M10.5.0",
            "GMT0BST-1,M3.5.0/01:00:00,M10.5.0/02:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(3, 5, 0, 60),
                end: at(10, 5, 0, 120),
            }),
        );
        let berlin = rules("Europe/Berlin");
        assert_eq!(berlin.std_offset_seconds, 3600);
        assert_eq!(berlin.std_abbr.as_deref(), Some("CET"));
        assert_eq!(berlin.dst_abbr.as_deref(), Some("CEST"));
    }

    #[test]
    fn north_american_rules_use_week_numbers() {
        assert_zone(
            "America/New_York",
            "EST5EDT,M3.2.0,M11.1.0",
            "EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(3, 2, 0, 120),
                end: at(11, 1, 0, 120),
            }),
        );
        // Half an hour behind a whole-hour zone, on both clocks.
        let st_johns = rules("America/St_Johns");
        assert_eq!(st_johns.std_offset_seconds, -(3 * 3600 + 1800));
        assert_eq!(st_johns.posix_tz(), "NST3:30NDT,M3.2.0,M11.1.0");
        assert_eq!(
            st_johns.posix_tz_explicit(),
            "NST3:30NDT2:30,M3.2.0/02:00:00,M11.1.0/02:00:00"
        );
    }

    #[test]
    fn southern_hemisphere_starts_late_in_the_year() {
        assert_zone(
            "Australia/Sydney",
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
            "AEST-10AEDT-11,M10.1.0/02:00:00,M4.1.0/03:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(10, 1, 0, 120),
                end: at(4, 1, 0, 180),
            }),
        );
        // The last Sunday of September (the 28th in 2025) is "last", not "fourth".
        assert_zone(
            "Pacific/Auckland",
            "NZST-12NZDT,M9.5.0,M4.1.0/3",
            "NZST-12NZDT-13,M9.5.0/02:00:00,M4.1.0/03:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(9, 5, 0, 120),
                end: at(4, 1, 0, 180),
            }),
        );
        let sydney = rules("Australia/Sydney");
        assert_eq!(sydney.std_offset_seconds, 10 * 3600);
        assert_eq!(
            (sydney.std_abbr.as_deref(), sydney.dst_abbr.as_deref()),
            (Some("AEST"), Some("AEDT"))
        );
    }

    #[test]
    fn half_hour_summer_time_spells_out_the_summer_offset() {
        assert_zone(
            "Australia/Lord_Howe",
            "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
            "<+1030>-10:30<+11>-11,M10.1.0/02:00:00,M4.1.0/02:00:00",
            Some(DstRule {
                save_minutes: 30,
                start: at(10, 1, 0, 120),
                end: at(4, 1, 0, 120),
            }),
        );
        let lord_howe = rules("Australia/Lord_Howe");
        assert_eq!((lord_howe.std_abbr, lord_howe.dst_abbr), (None, None));
    }

    #[test]
    fn zones_that_dropped_summer_time_have_none() {
        // Brazil stopped in 2019, Iran in 2022: the reference year has one offset.
        assert_zone("America/Sao_Paulo", "<-03>3", "<-03>3", None);
        assert_zone("Asia/Tehran", "<+0330>-3:30", "<+0330>-3:30", None);
        assert_zone("Asia/Kolkata", "IST-5:30", "IST-5:30", None);
        assert_zone("UTC", "UTC0", "UTC0", None);
        let kolkata = rules("Asia/Kolkata");
        assert_eq!(kolkata.std_offset_seconds, 5 * 3600 + 1800);
        assert_eq!(kolkata.std_abbr.as_deref(), Some("IST"));
        assert_eq!(kolkata.dst_abbr, None);
    }

    #[test]
    fn rules_no_table_knew_come_out_with_their_own_dates() {
        // Israel: the Friday before the last Sunday of March (the 28th, the last Friday in 2025).
        assert_zone(
            "Asia/Jerusalem",
            "IST-2IDT,M3.5.5,M10.5.0",
            "IST-2IDT-3,M3.5.5/02:00:00,M10.5.0/02:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(3, 5, 5, 120),
                end: at(10, 5, 0, 120),
            }),
        );
        // Chile changes at midnight, on the first Sunday of September and of April in 2025.
        assert_zone(
            "America/Santiago",
            "<-04>4<-03>,M9.1.0/0,M4.1.0/0",
            "<-04>4<-03>3,M9.1.0/00:00:00,M4.1.0/00:00:00",
            Some(DstRule {
                save_minutes: 60,
                start: at(9, 1, 0, 0),
                end: at(4, 1, 0, 0),
            }),
        );
    }

    #[test]
    fn letters_only_names_stand_in_for_numeric_ones() {
        assert_eq!(rules("America/Sao_Paulo").posix_tz_letters(), "STD3");
        assert_eq!(rules("Asia/Kolkata").posix_tz_letters(), "IST-5:30");
        assert_eq!(
            rules("America/Santiago").posix_tz_letters(),
            "STD4DST3,M9.1.0/00:00:00,M4.1.0/00:00:00"
        );
        assert_eq!(
            rules("Europe/Berlin").posix_tz_letters(),
            rules("Europe/Berlin").posix_tz_explicit()
        );
    }

    #[test]
    fn the_reference_year_decides_not_the_clock() {
        // Sao Paulo had summer time in 2018; the fixed year keeps output stable.
        let brazil: Tz = "America/Sao_Paulo".parse().unwrap();
        assert!(ZoneRules::in_year(brazil, 2018).dst.is_some());
        assert_eq!(
            ZoneRules::of(brazil),
            ZoneRules::in_year(brazil, REFERENCE_YEAR)
        );
    }
}
