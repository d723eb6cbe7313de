//! How values are written into a record: stable AWS-looking ids, CloudTrail
//! and IAM times, calendar dates, nested JSON objects.

use std::fmt::Write as _;

use crate::synth::json::Obj;
use crate::synth::rng::{Rng, UPPER_DIGITS};

/// A stable, AWS-looking id: `prefix` and `n` characters derived from `key`.
pub(super) fn stable_id(out: &mut String, prefix: &str, key: &[&str], n: usize) {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for part in key {
        for b in part.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
    }
    let mut r = Rng::new(h);
    out.push_str(prefix);
    r.chars(out, UPPER_DIGITS, n);
}

pub(super) fn write_time(out: &mut String, epoch: u64) {
    let (y, m, d) = civil(epoch / 86_400);
    let s = epoch % 86_400;
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

/// `YYYY-MM-DD` of a day count since the epoch (Howard Hinnant's algorithm).
pub fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since the epoch of a date.
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Mar 1, 2024, 2:05:09 PM`, as IAM and STS write dates in responses.
pub(super) fn write_human_time(out: &mut String, epoch: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil(epoch / 86_400);
    let s = epoch % 86_400;
    let (h, pm) = ((s / 3600) % 12, s / 3600 >= 12);
    let _ = write!(
        out,
        "{} {d}, {y}, {}:{:02}:{:02} {}",
        MONTHS[(m - 1) as usize],
        if h == 0 { 12 } else { h },
        s / 60 % 60,
        s % 60,
        if pm { "PM" } else { "AM" }
    );
}

pub(super) fn obj(f: impl FnOnce(&mut Obj)) -> String {
    let mut s = String::with_capacity(256);
    let mut o = Obj::new(&mut s);
    f(&mut o);
    o.end();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_print_like_cloudtrail() {
        let day = days_from_civil(2024, 2, 29);
        assert_eq!(civil(day), (2024, 2, 29));
        let mut s = String::new();
        write_time(&mut s, day * 86_400 + 13 * 3600 + 5 * 60 + 9);
        assert_eq!(s, "2024-02-29T13:05:09Z");
        s.clear();
        write_human_time(&mut s, day * 86_400 + 13 * 3600 + 5 * 60 + 9);
        assert_eq!(s, "Feb 29, 2024, 1:05:09 PM");
    }
}
