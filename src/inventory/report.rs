//! The IAM credential report: a CSV file, one row per IAM user plus a row
//! for the root user, parsed by column name.
//!
//! The shapes IAM really writes: the root row is named `<root_account>` and
//! carries `not_supported` in its password columns; `N/A` marks what does
//! not apply (no password, no key, a key never used); `no_information`
//! marks a password not used since IAM began tracking it; booleans are
//! `true`/`false` (the documentation says `TRUE`/`FALSE`); timestamps are
//! ISO 8601 with a `+00:00` offset. Columns are looked up by name, so a
//! column IAM adds later changes nothing. A malformed row is skipped with
//! a note rather than failing the whole report.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The name IAM gives the root user's row.
pub const ROOT_ROW: &str = "<root_account>";

/// A credential report that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("credential report has no header row")]
    Empty,
    #[error("credential report lacks column `{column}`")]
    MissingColumn { column: &'static str },
    #[error("credential report is not valid CSV: {message}")]
    Csv { message: String },
}

/// A timestamp column: a time, or the word IAM wrote instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "at")]
pub enum Stamp {
    At(DateTime<Utc>),
    /// `N/A`: no such credential, or a key never used.
    NotApplicable,
    /// `no_information`: not used since IAM began tracking (October 2014).
    NoInformation,
    /// `not_supported`: the column does not apply to this row (root).
    NotSupported,
}

impl Stamp {
    /// The time, when there is one.
    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            Stamp::At(t) => Some(t),
            _ => None,
        }
    }

    fn parse(value: &str) -> Option<Stamp> {
        let v = value.trim();
        Some(match v {
            "" | "N/A" => Stamp::NotApplicable,
            "no_information" => Stamp::NoInformation,
            "not_supported" => Stamp::NotSupported,
            _ => Stamp::At(DateTime::parse_from_rfc3339(v).ok()?.with_timezone(&Utc)),
        })
    }
}

/// One access key slot of a row (`access_key_1_*`, `access_key_2_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySlot {
    /// 1 or 2.
    pub slot: u8,
    pub active: bool,
    /// When the key was created (IAM calls it "last rotated").
    pub last_rotated: Stamp,
    pub last_used: Stamp,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

impl KeySlot {
    /// Does a key sit in this slot (active or not)?
    pub fn exists(&self) -> bool {
        self.active || self.last_rotated.at().is_some()
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRow {
    /// The user name, or `<root_account>`.
    pub user: String,
    pub arn: String,
    pub user_creation_time: Stamp,
    /// `None` for root (`not_supported`).
    pub password_enabled: Option<bool>,
    pub password_last_used: Stamp,
    pub password_last_changed: Stamp,
    /// `None` when the column said neither true nor false.
    pub mfa_active: Option<bool>,
    pub access_keys: [KeySlot; 2],
}

impl CredentialRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_ROW
    }

    /// The account id, from the row's ARN.
    pub fn account_id(&self) -> Option<&str> {
        let id = self.arn.split(':').nth(4)?;
        (!id.is_empty()).then_some(id)
    }
}

/// The parsed report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CredentialReport {
    /// When IAM generated it (from GetCredentialReport, not the CSV).
    pub generated: Option<DateTime<Utc>>,
    /// The `<root_account>` row; emulators may leave it out.
    pub root: Option<CredentialRow>,
    pub users: Vec<CredentialRow>,
    /// Rows skipped, and why.
    pub notes: Vec<String>,
}

/// The columns the scan reads; a report without one of them is unusable.
const REQUIRED: [&str; 13] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
];

/// Column positions, by name.
struct Columns {
    index: std::collections::HashMap<String, usize>,
    len: usize,
}

impl Columns {
    fn new(header: &csv::StringRecord) -> Result<Self, ReportError> {
        let index: std::collections::HashMap<_, _> = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().trim_start_matches('\u{feff}').to_owned(), i))
            .collect();
        for column in REQUIRED {
            if !index.contains_key(column) {
                return Err(ReportError::MissingColumn { column });
            }
        }
        Ok(Columns {
            index,
            len: header.len(),
        })
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.index
            .get(column)
            .and_then(|&i| record.get(i))
            .map_or("", str::trim)
    }
}

/// Why one row could not be read.
fn row_error(line: u64, user: &str, column: &str, value: &str) -> String {
    format!("line {line} (user `{user}`): column `{column}` has unreadable value `{value}`")
}

fn boolean(value: &str) -> Option<Option<bool>> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(Some(true)),
        "false" => Some(Some(false)),
        "not_supported" | "n/a" | "" => Some(None),
        _ => None,
    }
}

fn optional_text(value: &str) -> Option<String> {
    match value {
        "" | "N/A" | "not_supported" | "no_information" => None,
        v => Some(v.to_owned()),
    }
}

fn parse_row(
    cols: &Columns,
    record: &csv::StringRecord,
    line: u64,
) -> Result<CredentialRow, String> {
    let user = cols.get(record, "user");
    if user.is_empty() {
        return Err(format!("line {line}: empty `user` column"));
    }
    // A cut row would read as "no credentials" and hide findings.
    if record.len() < cols.len {
        return Err(format!(
            "line {line} (user `{user}`): {} fields where the header has {}",
            record.len(),
            cols.len
        ));
    }
    let stamp = |column: &str| -> Result<Stamp, String> {
        let v = cols.get(record, column);
        Stamp::parse(v).ok_or_else(|| row_error(line, user, column, v))
    };
    let flag = |column: &str| -> Result<Option<bool>, String> {
        let v = cols.get(record, column);
        boolean(v).ok_or_else(|| row_error(line, user, column, v))
    };
    let slot = |n: u8| -> Result<KeySlot, String> {
        let p = format!("access_key_{n}_");
        Ok(KeySlot {
            slot: n,
            active: flag(&format!("{p}active"))?.unwrap_or(false),
            last_rotated: stamp(&format!("{p}last_rotated"))?,
            last_used: stamp(&format!("{p}last_used_date"))?,
            last_used_region: optional_text(cols.get(record, &format!("{p}last_used_region"))),
            last_used_service: optional_text(cols.get(record, &format!("{p}last_used_service"))),
        })
    };
    Ok(CredentialRow {
        user: user.to_owned(),
        arn: cols.get(record, "arn").to_owned(),
        user_creation_time: stamp("user_creation_time")?,
        password_enabled: flag("password_enabled")?,
        password_last_used: stamp("password_last_used")?,
        password_last_changed: stamp("password_last_changed")?,
        mfa_active: flag("mfa_active")?,
        access_keys: [slot(1)?, slot(2)?],
    })
}

impl CredentialReport {
    /// Parses the CSV content of a credential report (already base64-decoded).
    pub fn parse(content: &[u8]) -> Result<Self, ReportError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(content);
        let header = reader
            .headers()
            .map_err(|e| ReportError::Csv {
                message: e.to_string(),
            })?
            .clone();
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err(ReportError::Empty);
        }
        let cols = Columns::new(&header)?;
        let mut report = CredentialReport::default();
        for (i, record) in reader.records().enumerate() {
            // The header is line 1.
            let line = i as u64 + 2;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    report
                        .notes
                        .push(format!("line {line}: not valid CSV: {e}"));
                    continue;
                }
            };
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            match parse_row(&cols, &record, line) {
                Ok(row) if row.is_root() => report.root = Some(row),
                Ok(row) => report.users.push(row),
                Err(note) => report.notes.push(note),
            }
        }
        Ok(report)
    }

    /// The account id, from the root row or any user's ARN.
    pub fn account_id(&self) -> Option<&str> {
        self.root
            .iter()
            .chain(&self.users)
            .find_map(CredentialRow::account_id)
    }

    /// The row of a user, by name.
    pub fn user(&self, name: &str) -> Option<&CredentialRow> {
        self.users.iter().find(|r| r.user == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout of a real report (AWS IAM User Guide, "Getting credential
    /// reports"): root with keys never used, a console user who never signed
    /// in, a key user with a used and an unused key, a user with nothing.
    pub const REAL: &str = "\
user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2015-03-09T17:58:26+00:00,not_supported,2024-04-30T08:12:03+00:00,not_supported,not_supported,false,true,2016-02-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
carol,arn:aws:iam::111122223333:user/carol,2023-06-01T09:00:00+00:00,true,no_information,2023-06-01T09:00:05+00:00,2023-08-30T09:00:05+00:00,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
deploy,arn:aws:iam::111122223333:user/ci/deploy,2021-01-15T12:30:00+00:00,false,N/A,N/A,N/A,false,true,2021-01-15T12:31:00+00:00,2024-04-29T23:59:59+00:00,us-east-1,s3,true,2022-02-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
nobody,arn:aws:iam::111122223333:user/nobody,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

    fn at(s: &str) -> Stamp {
        Stamp::At(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn real_layout_parses_root_and_users() {
        let r = CredentialReport::parse(REAL.as_bytes()).unwrap();
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let root = r.root.as_ref().unwrap();
        assert_eq!(root.password_enabled, None);
        assert_eq!(root.password_last_changed, Stamp::NotSupported);
        assert_eq!(root.password_last_used, at("2024-04-30T08:12:03Z"));
        assert_eq!(root.mfa_active, Some(false));
        assert!(root.access_keys[0].active);
        assert_eq!(root.access_keys[0].last_used, Stamp::NotApplicable);
        assert_eq!(r.account_id(), Some("111122223333"));

        let names: Vec<_> = r.users.iter().map(|u| u.user.as_str()).collect();
        assert_eq!(names, ["carol", "deploy", "nobody"]);
        let carol = r.user("carol").unwrap();
        assert_eq!(carol.password_enabled, Some(true));
        assert_eq!(carol.password_last_used, Stamp::NoInformation);
        let deploy = r.user("deploy").unwrap();
        assert_eq!(deploy.password_last_used, Stamp::NotApplicable);
        let [k1, k2] = &deploy.access_keys;
        assert_eq!(k1.last_used, at("2024-04-29T23:59:59+00:00"));
        assert_eq!(k1.last_used_service.as_deref(), Some("s3"));
        assert!(k2.active && k2.exists());
        assert_eq!(k2.last_used, Stamp::NotApplicable);
        let nobody = r.user("nobody").unwrap();
        assert!(!nobody.access_keys[0].exists());
    }

    #[test]
    fn empty_account_is_the_root_row_only() {
        let header = REAL.lines().next().unwrap();
        let root = REAL.lines().nth(1).unwrap();
        let r = CredentialReport::parse(format!("{header}\n{root}\n").as_bytes()).unwrap();
        assert!(r.root.is_some());
        assert!(r.users.is_empty());
        // A header alone (moto writes no root row) is an empty account too.
        let r = CredentialReport::parse(format!("{header}\n").as_bytes()).unwrap();
        assert!(r.root.is_none() && r.users.is_empty());
    }

    #[test]
    fn upper_case_booleans_crlf_and_extra_columns_are_read() {
        let text = REAL
            .replace(",true,", ",TRUE,")
            .replace(",false,", ",FALSE,")
            // A column IAM may add later, at the end of every line.
            .replace('\n', ",some_future_column\r\n");
        let r = CredentialReport::parse(text.as_bytes()).unwrap();
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(r.user("carol").unwrap().password_enabled, Some(true));
        assert_eq!(r.users.len(), 3);
    }

    #[test]
    fn moto_shapes_are_read() {
        // moto writes `not_supported` where IAM writes `N/A`, and no root row.
        let text = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
bob,arn:aws:iam::123456789012:user/bob,2024-05-01T10:00:00+00:00,false,not_supported,2024-05-01T10:00:00+00:00,not_supported,false,true,2024-05-01T10:00:01+00:00,N/A,not_supported,not_supported,false,N/A,N/A,not_supported,not_supported,false,N/A,false,N/A\n";
        let r = CredentialReport::parse(text.as_bytes()).unwrap();
        let bob = r.user("bob").unwrap();
        assert_eq!(bob.password_last_used, Stamp::NotSupported);
        assert_eq!(bob.access_keys[0].last_used_region, None);
        assert_eq!(bob.access_keys[0].last_rotated, at("2024-05-01T10:00:01Z"));
    }

    #[test]
    fn a_bad_row_is_skipped_with_a_note_naming_it() {
        let text = REAL.replace("2023-06-01T09:00:05+00:00,2023", "yesterday,2023");
        let r = CredentialReport::parse(text.as_bytes()).unwrap();
        assert_eq!(r.users.len(), 2);
        assert_eq!(
            r.notes,
            [
                "line 3 (user `carol`): column `password_last_changed` has unreadable value `yesterday`"
            ]
        );
        let text = REAL.replace(",false,true,2021", ",maybe,true,2021");
        let r = CredentialReport::parse(text.as_bytes()).unwrap();
        assert!(r.notes[0].contains("column `mfa_active` has unreadable value `maybe`"));
    }

    #[test]
    fn a_short_row_is_skipped_not_a_panic() {
        let text = format!("{REAL}eve,arn:aws:iam::111122223333:user/eve,2020\n");
        let r = CredentialReport::parse(text.as_bytes()).unwrap();
        assert_eq!(r.users.len(), 3);
        assert!(
            r.notes[0].starts_with("line 6 (user `eve`)"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn missing_columns_and_garbage_are_errors() {
        assert_eq!(CredentialReport::parse(b""), Err(ReportError::Empty));
        let err = CredentialReport::parse(b"user,arn\nbob,x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "credential report lacks column `user_creation_time`"
        );
        assert!(CredentialReport::parse(&[0xff, 0xfe, 0x00]).is_err());
    }
}
