//! CloudTrail archives in S3: `s3://BUCKET/PREFIX` URLs, and the key layout
//! CloudTrail delivers to (`AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`)
//! read to list only the folders a replay's filters can match. Pure: the
//! listing itself is an effect.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// An `s3://BUCKET/PREFIX` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Everything after the bucket's `/`; may be empty.
    pub prefix: String,
}

/// A text that starts with `s3://` but names no bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{url}` is not an S3 URL: {reason}")]
pub struct BadUrl {
    pub url: String,
    pub reason: &'static str,
}

impl S3Url {
    /// `None` when `text` is not an S3 URL at all (a local path).
    pub fn parse(text: &str) -> Option<Result<S3Url, BadUrl>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bad = |reason| {
            Some(Err(BadUrl {
                url: text.to_owned(),
                reason,
            }))
        };
        if bucket.is_empty() {
            return bad("no bucket name");
        }
        // S3's bucket naming rules, loosely: enough to refuse a typo.
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        {
            return bad("a bucket name holds only lowercase letters, digits, `-`, `.` and `_`");
        }
        Some(Ok(S3Url {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }))
    }

    /// The URL of a key in the same bucket.
    pub fn key_url(bucket: &str, key: &str) -> String {
        format!("s3://{bucket}/{key}")
    }
}

/// How late CloudTrail may deliver an event and still be found: a folder
/// (and a file, by the time in its name) is for the time it was delivered,
/// so an event of the last hour before `--until` may sit in a later one.
/// CloudTrail delivers within about 5 minutes on average.
pub const LATE_DELIVERY: Duration = Duration::hours(1);

/// How far from the time in its name a log file's events may be: the name
/// carries the end of the delivery window it covers, and a window may
/// straddle midnight.
pub const FILE_WINDOW: Duration = Duration::minutes(15);

/// What a replay's filters allow, as far as the key layout can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prune {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

/// How to find the log files under one folder (a prefix that ends in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Descend {
    /// List it one level down (delimiter `/`) and keep what
    /// [`keeps_folder`] and [`classify_key`] allow.
    List,
    /// Only these folders under it can hold a match: list them, not it.
    Only(Vec<String>),
    /// Nothing under it can match.
    Skip,
}

/// Where a folder sits in CloudTrail's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level<'a> {
    /// Not (yet) under an `AWSLogs/` folder: a trail's own prefix, or none.
    Outside,
    /// `AWSLogs/`: organisation ids or account ids below.
    Root,
    /// `AWSLogs/o-ORG/`: account ids below.
    Organization,
    /// `.../ACCOUNT/`: `CloudTrail`, `CloudTrail-Digest`, ... below.
    Account(&'a str),
    /// `.../ACCOUNT/SERVICE/`: regions below.
    Service(&'a str, &'a str),
    /// `.../CloudTrail/REGION/`, then year, month: the date so far.
    Date { parts: usize, date: [u32; 3] },
    /// A day's folder or deeper: files.
    Files,
}

fn level(folder: &str) -> Level<'_> {
    let parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    let Some(at) = parts.iter().position(|p| *p == "AWSLogs") else {
        return Level::Outside;
    };
    let mut rest = &parts[at + 1..];
    let org = rest.first().is_some_and(|p| p.starts_with("o-"));
    if org {
        rest = &rest[1..];
    }
    match rest {
        [] if org => Level::Organization,
        [] => Level::Root,
        [account] => Level::Account(account),
        [account, service] => Level::Service(account, service),
        [_, _, _, date @ ..] if date.len() < 3 => {
            let mut d = [0u32; 3];
            for (slot, text) in d.iter_mut().zip(date) {
                *slot = text.parse().unwrap_or(0);
            }
            Level::Date {
                parts: date.len(),
                date: d,
            }
        }
        _ => Level::Files,
    }
}

impl Prune {
    /// Can a folder or file delivered in `[start, end)` hold an event of
    /// the filters' time range? Until is widened by [`LATE_DELIVERY`].
    fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| end > s) && self.until.is_none_or(|u| start < u + LATE_DELIVERY)
    }
}

/// The UTC day, month or year a date folder stands for, as `[start, end)`;
/// `None` when its name is no date.
fn date_span(parts: usize, date: [u32; 3]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let [y, m, d] = date;
    let (start, end) = match parts {
        1 => (
            NaiveDate::from_ymd_opt(y as i32, 1, 1)?,
            NaiveDate::from_ymd_opt(y as i32 + 1, 1, 1)?,
        ),
        2 => {
            let start = NaiveDate::from_ymd_opt(y as i32, m, 1)?;
            (start, start.checked_add_months(chrono::Months::new(1))?)
        }
        3 => {
            let start = NaiveDate::from_ymd_opt(y as i32, m, d)?;
            (start, start.succ_opt()?)
        }
        _ => return None,
    };
    let utc = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    Some((utc(start)?, utc(end)?))
}

/// How to look under `folder` (a prefix ending in `/`, or empty) for the log
/// files `prune` can match. Accounts and regions named by the filters are
/// folders to go to, not to look for; with both `since` and `until`, so are
/// the days between them. Digest and Insights folders are never listed.
pub fn descend(folder: &str, prune: &Prune) -> Descend {
    match level(folder) {
        Level::Organization if !prune.accounts.is_empty() => Descend::Only(
            prune
                .accounts
                .iter()
                .map(|a| format!("{folder}{a}/"))
                .collect(),
        ),
        Level::Account(_) => Descend::Only(vec![format!("{folder}CloudTrail/")]),
        Level::Service(_, service) if service != "CloudTrail" => Descend::Skip,
        Level::Service(..) if !prune.regions.is_empty() => Descend::Only(
            prune
                .regions
                .iter()
                .map(|r| format!("{folder}{r}/"))
                .collect(),
        ),
        Level::Date { parts: 0, .. } => match days(prune) {
            Some(days) => Descend::Only(
                days.map(|d| format!("{folder}{}/", d.format("%Y/%m/%d")))
                    .collect(),
            ),
            None => Descend::List,
        },
        _ => Descend::List,
    }
}

/// The longest range of days [`descend`] names one by one rather than
/// listing years and months.
const MAX_NAMED_DAYS: i64 = 3 * 366;

/// The day folders from `since` to `until` (widened by [`LATE_DELIVERY`]),
/// when both are set and the range is not huge.
fn days(prune: &Prune) -> Option<impl Iterator<Item = NaiveDate>> {
    let (Some(from), Some(until)) = (prune.since, prune.until) else {
        return None;
    };
    let to = until + LATE_DELIVERY;
    let first = from.date_naive();
    // `to` is exclusive: midnight starts no day of the range.
    let last = (to - Duration::nanoseconds(1)).date_naive();
    let count = (last - first).num_days() + 1;
    (0..=MAX_NAMED_DAYS)
        .contains(&count)
        .then(|| first.iter_days().take(count as usize))
}

/// Is a folder met in a listing worth listing, as far as its place in the
/// layout says (an account, region or date `prune` excludes is not)?
pub fn keeps_folder(folder: &str, prune: &Prune) -> bool {
    match level(folder) {
        Level::Account(account) => {
            prune.accounts.is_empty() || prune.accounts.iter().any(|a| a == account)
        }
        Level::Service(_, service) => service == "CloudTrail",
        Level::Date { parts: 0, .. } => {
            let region = folder.trim_end_matches('/').rsplit('/').next();
            prune.regions.is_empty() || prune.regions.iter().any(|r| Some(r.as_str()) == region)
        }
        Level::Date { parts, date } => match date_span(parts, date) {
            Some((start, end)) => prune.overlaps(start, end),
            // Not a date: not CloudTrail's, so not pruned.
            None => true,
        },
        Level::Files => match day_of(folder) {
            Some((start, end)) => prune.overlaps(start, end),
            None => true,
        },
        Level::Outside | Level::Root | Level::Organization => true,
    }
}

/// The day a `.../REGION/YYYY/MM/DD/` folder stands for.
fn day_of(folder: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    let [.., y, m, d] = parts[..] else {
        return None;
    };
    if (y.len(), m.len(), d.len()) != (4, 2, 2) {
        return None;
    }
    date_span(3, [y.parse().ok()?, m.parse().ok()?, d.parse().ok()?])
}

/// What a key is, for a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A file of events to read.
    Events,
    /// A CloudTrail digest file (log file validation): skipped, counted.
    Digest,
    /// Anything else (a manifest, a marker, `ConfigWritabilityCheckFile`):
    /// not read, not counted.
    Other,
}

/// Classifies a key by its name; `prune` sets aside a CloudTrail log file
/// whose delivery time (in its name) is outside the filters' window.
pub fn classify_key(key: &str, prune: &Prune) -> KeyKind {
    let name = key.rsplit('/').next().unwrap_or(key);
    if name.contains("_CloudTrail-Digest_") || key.split('/').any(|p| p == "CloudTrail-Digest") {
        return KeyKind::Digest;
    }
    if !super::paths::looks_like_events(name) {
        return KeyKind::Other;
    }
    match delivered_at(name) {
        Some(t) if !prune.overlaps(t - FILE_WINDOW, t + FILE_WINDOW) => KeyKind::Other,
        _ => KeyKind::Events,
    }
}

/// The time in a CloudTrail log file's name
/// (`ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz`).
fn delivered_at(name: &str) -> Option<DateTime<Utc>> {
    let rest = name.split_once("_CloudTrail_")?.1;
    let stamp = rest.split('_').nth(1)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .ok()
        .map(|t| t.and_utc())
}

/// The order a local directory walk gives (each folder's entries by name,
/// a folder's contents right after its name): S3 lists keys in byte order,
/// which puts `a.json` before `a/b.json`; a walk puts the folder `a` first.
pub fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> DateTime<Utc> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        assert_eq!(S3Url::parse("AWSLogs/"), None);
        let u = S3Url::parse("s3://trail-logs/AWSLogs/o-1/")
            .unwrap()
            .unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("trail-logs", "AWSLogs/o-1/")
        );
        let u = S3Url::parse("s3://trail-logs").unwrap().unwrap();
        assert_eq!(u.prefix, "");
        let e = S3Url::parse("s3:///x").unwrap().unwrap_err();
        assert_eq!(e.to_string(), "`s3:///x` is not an S3 URL: no bucket name");
        assert!(S3Url::parse("s3://Trail Logs/").unwrap().is_err());
    }

    #[test]
    fn filters_name_the_accounts_regions_and_days_to_list() {
        let prune = Prune {
            since: Some(day("2024-03-05")),
            until: Some(day("2024-03-06")),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
        };
        assert_eq!(
            descend("AWSLogs/o-abc/", &prune),
            Descend::Only(vec!["AWSLogs/o-abc/111122223333/".into()])
        );
        assert_eq!(
            descend("AWSLogs/o-abc/111122223333/", &prune),
            Descend::Only(vec!["AWSLogs/o-abc/111122223333/CloudTrail/".into()])
        );
        assert_eq!(
            descend("p/AWSLogs/111122223333/CloudTrail/", &prune),
            Descend::Only(vec!["p/AWSLogs/111122223333/CloudTrail/eu-west-1/".into()])
        );
        // The day, then the next one for the events delivered late.
        assert_eq!(
            descend("AWSLogs/1/CloudTrail/eu-west-1/", &prune),
            Descend::Only(vec![
                "AWSLogs/1/CloudTrail/eu-west-1/2024/03/05/".into(),
                "AWSLogs/1/CloudTrail/eu-west-1/2024/03/06/".into(),
            ])
        );
        assert_eq!(
            descend("AWSLogs/1/CloudTrail-Digest/", &prune),
            Descend::Skip
        );
        // Without filters every level is listed.
        assert_eq!(descend("AWSLogs/o-abc/", &Prune::default()), Descend::List);
        assert_eq!(
            descend("AWSLogs/1/CloudTrail/eu-west-1/", &Prune::default()),
            Descend::List
        );
        assert_eq!(descend("", &prune), Descend::List);
    }

    #[test]
    fn listed_folders_are_kept_when_the_filters_can_match_them() {
        let prune = Prune {
            since: Some(day("2024-03-05")),
            until: None,
            accounts: vec!["111122223333".into()],
            regions: vec![],
        };
        assert!(keeps_folder("AWSLogs/111122223333/", &prune));
        assert!(!keeps_folder("AWSLogs/444455556666/", &prune));
        assert!(keeps_folder("AWSLogs/o-x/", &prune));
        assert!(!keeps_folder("AWSLogs/1/CloudTrail-Digest/", &prune));
        assert!(!keeps_folder("AWSLogs/1/CloudTrail/r/2023/", &prune));
        assert!(keeps_folder("AWSLogs/1/CloudTrail/r/2024/", &prune));
        assert!(!keeps_folder("AWSLogs/1/CloudTrail/r/2024/02/", &prune));
        assert!(keeps_folder("AWSLogs/1/CloudTrail/r/2024/03/", &prune));
        assert!(!keeps_folder("AWSLogs/1/CloudTrail/r/2024/03/04/", &prune));
        assert!(keeps_folder("AWSLogs/1/CloudTrail/r/2024/03/05/", &prune));
        assert!(keeps_folder("other/", &prune));
    }

    #[test]
    fn keys_are_events_digests_or_other() {
        let p = Prune::default();
        assert_eq!(
            classify_key(
                "AWSLogs/1/CloudTrail/us-east-1/2024/03/05/1_CloudTrail_us-east-1_20240305T0105Z_ab.json.gz",
                &p
            ),
            KeyKind::Events
        );
        assert_eq!(
            classify_key(
                "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/03/05/1_CloudTrail-Digest_us-east-1_t_us-east-1_20240305T010500Z.json.gz",
                &p
            ),
            KeyKind::Digest
        );
        assert_eq!(
            classify_key("AWSLogs/1/CloudTrail/ConfigWritabilityCheckFile", &p),
            KeyKind::Other
        );
        assert_eq!(classify_key("notes.txt", &p), KeyKind::Other);
    }

    #[test]
    fn a_file_delivered_outside_the_window_is_not_read() {
        let prune = Prune {
            since: Some(day("2024-03-05")),
            until: Some(day("2024-03-06")),
            ..Prune::default()
        };
        let key = |stamp: &str| format!("1_CloudTrail_us-east-1_{stamp}_ab.json.gz");
        assert_eq!(classify_key(&key("20240304T2300Z"), &prune), KeyKind::Other);
        assert_eq!(
            classify_key(&key("20240305T0005Z"), &prune),
            KeyKind::Events
        );
        assert_eq!(
            classify_key(&key("20240306T0030Z"), &prune),
            KeyKind::Events
        );
        assert_eq!(classify_key(&key("20240306T0200Z"), &prune), KeyKind::Other);
    }

    #[test]
    fn walk_order_puts_a_folder_before_its_longer_siblings() {
        let mut keys = vec!["a/b.json", "a.json", "a/a.json", "b.json"];
        keys.sort_by(|a, b| walk_order(a, b));
        assert_eq!(keys, ["a/a.json", "a/b.json", "a.json", "b.json"]);
    }
}
