//! A synthetic CloudTrail archive, laid out as S3 delivers it:
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz`
//! (an organisation trail's `AWSLogs/<o-org>/<account>/...` with `organization`),
//! each file a gzipped `{"Records":[...]}` log of 1 to a few thousand
//! records. Records are mostly everyday read-only noise; a seeded share are
//! violations whose findings are counted into a [`Manifest`], written beside
//! the archive as `manifest.json`.
//!
//! The same options and seed give the same bytes, whatever the number of
//! threads: each file has its own random stream.

pub mod json;
pub mod records;
pub mod rng;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use records::{ACCOUNTS, Ctx, Fired, GLOBAL_REGION, REGIONS, RULES};
use rng::{ALNUM, Rng};

/// Bumped whenever the same options would produce different bytes.
pub const GENERATOR_VERSION: u32 = 2;

/// What to generate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Options {
    /// Uncompressed JSON bytes to aim for (the result is within a few
    /// percent, see [`Manifest::json_bytes`]).
    pub size: u64,
    pub seed: u64,
    /// Share of records that are violations.
    pub violation_share: f64,
    /// Share of records that look like violations but must not fire.
    pub near_miss_share: f64,
    /// Days covered, from `start`.
    pub days: u32,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// gzip level (0-9).
    pub level: u32,
    /// An organisation trail's id (`o-...`): files go under
    /// `AWSLogs/<org>/<account>/...`, as an organisation trail delivers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            size: 1 << 30,
            seed: 42,
            violation_share: 0.005,
            near_miss_share: 0.002,
            days: 14,
            start: "2024-03-01".into(),
            level: 6,
            organization: None,
        }
    }
}

/// What was generated, and what trailguard must find in it (built-in
/// default config: every rule in alert mode).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub generator_version: u32,
    pub options: Options,
    pub files: u64,
    pub records: u64,
    /// Uncompressed JSON bytes of all files.
    pub json_bytes: u64,
    pub gzip_bytes: u64,
    /// Records written as violations (some fire several rules).
    pub violations: u64,
    pub near_misses: u64,
    /// Findings in all, then per rule id (every rule listed), per account,
    /// per region (`awsRegion`) and per day (`eventTime`, UTC).
    pub findings: u64,
    pub findings_by_rule: BTreeMap<String, u64>,
    pub findings_by_account: BTreeMap<String, u64>,
    pub findings_by_region: BTreeMap<String, u64>,
    pub findings_by_day: BTreeMap<String, u64>,
    /// Records `jq` selects with [`JQ_ROOT_CONSOLE_LOGIN`].
    pub jq_root_console_login: u64,
}

/// A `jq` filter equivalent to the `root-console-login` rule.
pub const JQ_ROOT_CONSOLE_LOGIN: &str = r#".Records[] | select(.eventSource == "signin.amazonaws.com" and .eventName == "ConsoleLogin" and .userIdentity.type == "Root" and .responseElements.ConsoleLogin == "Success")"#;

impl Manifest {
    pub fn path(out: &Path) -> PathBuf {
        out.join("manifest.json")
    }

    pub fn read(out: &Path) -> io::Result<Manifest> {
        let text = fs::read(Self::path(out))?;
        serde_json::from_slice(&text).map_err(io::Error::other)
    }
}

/// The logs directory of an archive written to `out`.
pub fn logs_dir(out: &Path) -> PathBuf {
    out.join("AWSLogs")
}

/// One log file to write.
#[derive(Debug, Clone)]
struct FileSpec {
    index: u64,
    account: usize,
    region: usize,
    /// Start of its five-minute window, seconds since the epoch.
    window: u64,
    records: u64,
    /// The first file holds one violation of every kind, so that any
    /// archive covers every rule, then the scripted activity of
    /// [`records::SCRIPT`] once.
    showcase: bool,
}

/// Per-file counts, summed into the manifest.
#[derive(Debug, Default)]
struct FileStats {
    records: u64,
    json_bytes: u64,
    gzip_bytes: u64,
    violations: u64,
    near_misses: u64,
    by_rule: [u64; RULES.len()],
    jq_root_console_login: u64,
}

fn parse_day(text: &str) -> Result<u64, String> {
    let parts: Vec<u64> = text
        .split('-')
        .map(|p| p.parse().map_err(|_| format!("bad date `{text}`")))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [y, m, d]
            if (1970..10_000).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d) =>
        {
            Ok(records::days_from_civil(y, m, d))
        }
        _ => Err(format!("bad date `{text}` (expected YYYY-MM-DD)")),
    }
}

/// Average bytes per record, measured on a fixed sample so the plan does
/// not depend on anything but the options.
fn calibrate(opts: &Options) -> f64 {
    let mut rng = Rng::derive(opts.seed, u64::MAX - 1);
    let mut out = String::new();
    let n = 4000u64;
    for i in 0..n {
        let region = REGIONS[rng.weighted(&REGIONS.map(|r| r.1))].0;
        let mut ctx = Ctx {
            rng: &mut rng,
            account: ACCOUNTS[0].id,
            region,
            time: 1_709_251_200 + i,
        };
        records::background(&mut ctx, &mut out);
        out.push(',');
    }
    out.len() as f64 / n as f64
}

fn plan(opts: &Options) -> Result<Vec<FileSpec>, String> {
    let first_day = parse_day(&opts.start)?;
    if opts.days == 0 {
        return Err("days must be at least 1".into());
    }
    if let Some(org) = &opts.organization {
        // One path component, as AWS Organizations spells its ids.
        let id = org.strip_prefix("o-").unwrap_or("");
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "organization `{org}` is not an id like o-a1b2c3d4e5"
            ));
        }
    }
    let target_records = (opts.size as f64 / calibrate(opts)).ceil().max(1.0) as u64;
    let mut rng = Rng::derive(opts.seed, u64::MAX);
    let account_weights = ACCOUNTS.map(|a| a.weight);
    let region_weights = REGIONS.map(|r| r.1);
    let mut specs = Vec::new();
    let mut total = 0;
    while total < target_records {
        let index = specs.len() as u64;
        let showcase = index == 0;
        let (account, region) = if showcase {
            (0, 0)
        } else {
            (
                rng.weighted(&account_weights),
                rng.weighted(&region_weights),
            )
        };
        let cap = REGIONS[region].2;
        let mut records = rng.log_uniform(1, cap).min(target_records - total);
        if showcase {
            records = records.max(2 * records::VIOLATION_KINDS + records::SCRIPT.len() as u64);
        }
        let day = first_day + rng.below(u64::from(opts.days));
        let window = day * 86_400 + rng.below(288) * 300;
        specs.push(FileSpec {
            index,
            account,
            region,
            window,
            records,
            showcase,
        });
        total += records;
    }
    Ok(specs)
}

fn relative_path(spec: &FileSpec, rng: &mut Rng) -> PathBuf {
    let account = ACCOUNTS[spec.account].id;
    let region = REGIONS[spec.region].0;
    let (y, m, d) = records::civil(spec.window / 86_400);
    // CloudTrail names a file after the end of the window it covers.
    let end = spec.window + 300;
    let (ey, em, ed) = records::civil(end / 86_400);
    let mut suffix = String::new();
    rng.chars(&mut suffix, ALNUM, 16);
    PathBuf::from(format!(
        "{account}/CloudTrail/{region}/{y:04}/{m:02}/{d:02}/{account}_CloudTrail_{region}_{ey:04}{em:02}{ed:02}T{:02}{:02}Z_{suffix}.json.gz",
        end % 86_400 / 3600,
        end % 3600 / 60
    ))
}

/// The JSON text of one log file and its counts.
fn file_json(spec: &FileSpec, opts: &Options, rng: &mut Rng, out: &mut String) -> FileStats {
    let mut stats = FileStats {
        records: spec.records,
        ..FileStats::default()
    };
    let account = ACCOUNTS[spec.account].id;
    let region = REGIONS[spec.region].0;
    let mut offsets: Vec<u64> = (0..spec.records).map(|_| rng.below(300)).collect();
    offsets.sort_unstable();
    out.clear();
    out.push_str("{\"Records\":[");
    for (i, offset) in offsets.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let i = i as u64;
        let mut ctx = Ctx {
            rng: &mut *rng,
            account,
            region,
            time: spec.window + offset,
        };
        let kinds = if region == GLOBAL_REGION {
            records::VIOLATION_KINDS
        } else {
            records::REGIONAL_VIOLATIONS
        };
        let showcase = spec.showcase && i < records::VIOLATION_KINDS;
        let scripted = i
            .checked_sub(records::VIOLATION_KINDS)
            .filter(|s| spec.showcase && *s < records::SCRIPT.len() as u64);
        let roll = ctx.rng.unit();
        if let Some(s) = scripted {
            records::scripted(&mut ctx, s as usize, out);
        } else if showcase || roll < opts.violation_share {
            let kind = if showcase { i } else { ctx.rng.below(kinds) };
            let fired: Fired = records::violation(&mut ctx, kind, out);
            stats.violations += 1;
            for r in fired.rules() {
                stats.by_rule[r] += 1;
            }
            if kind == 3 {
                stats.jq_root_console_login += 1;
            }
        } else if roll < opts.violation_share + opts.near_miss_share {
            records::near_miss(&mut ctx, out);
            stats.near_misses += 1;
        } else {
            records::background(&mut ctx, out);
        }
    }
    out.push_str("]}");
    stats.json_bytes = out.len() as u64;
    stats
}

/// Writes the archive under `out` (`out/AWSLogs/...`, `out/manifest.json`)
/// on `threads` threads, and answers its manifest. `progress` is called
/// with (files done, files in all).
pub fn generate(
    out: &Path,
    opts: &Options,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> io::Result<Manifest> {
    let specs = plan(opts).map_err(io::Error::other)?;
    let root = logs_dir(out);
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    let _ = fs::remove_file(Manifest::path(out));
    let logs = match &opts.organization {
        Some(org) => root.join(org),
        None => root,
    };
    fs::create_dir_all(&logs)?;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileStats>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    let failure: Mutex<Option<io::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut text = String::new();
                let mut gz = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let written = write_file(spec, opts, &logs, &mut text, &mut gz);
                    match written {
                        Ok(stats) => {
                            results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(stats);
                        }
                        Err(e) => {
                            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                            next.store(specs.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, specs.len());
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut m = Manifest {
        generator_version: GENERATOR_VERSION,
        options: opts.clone(),
        files: specs.len() as u64,
        records: 0,
        json_bytes: 0,
        gzip_bytes: 0,
        violations: 0,
        near_misses: 0,
        findings: 0,
        findings_by_rule: RULES.iter().map(|r| ((*r).to_owned(), 0)).collect(),
        findings_by_account: BTreeMap::new(),
        findings_by_region: BTreeMap::new(),
        findings_by_day: BTreeMap::new(),
        jq_root_console_login: 0,
    };
    for (spec, stats) in specs.iter().zip(results) {
        let s = stats.expect("every file was written");
        m.records += s.records;
        m.json_bytes += s.json_bytes;
        m.gzip_bytes += s.gzip_bytes;
        m.violations += s.violations;
        m.near_misses += s.near_misses;
        m.jq_root_console_login += s.jq_root_console_login;
        let found: u64 = s.by_rule.iter().sum();
        m.findings += found;
        for (rule, n) in RULES.iter().zip(s.by_rule) {
            *m.findings_by_rule.entry((*rule).to_owned()).or_default() += n;
        }
        if found > 0 {
            let (y, mo, d) = records::civil(spec.window / 86_400);
            *m.findings_by_account
                .entry(ACCOUNTS[spec.account].id.to_owned())
                .or_default() += found;
            *m.findings_by_region
                .entry(REGIONS[spec.region].0.to_owned())
                .or_default() += found;
            *m.findings_by_day
                .entry(format!("{y:04}-{mo:02}-{d:02}"))
                .or_default() += found;
        }
    }
    let text = serde_json::to_string_pretty(&m).map_err(io::Error::other)?;
    fs::write(Manifest::path(out), text + "\n")?;
    Ok(m)
}

fn write_file(
    spec: &FileSpec,
    opts: &Options,
    logs: &Path,
    text: &mut String,
    gz: &mut Vec<u8>,
) -> io::Result<FileStats> {
    let mut rng = Rng::derive(opts.seed, spec.index);
    let path = logs.join(relative_path(spec, &mut rng));
    let mut stats = file_json(spec, opts, &mut rng, text);
    gz.clear();
    let mut enc = GzEncoder::new(std::mem::take(gz), Compression::new(opts.level));
    enc.write_all(text.as_bytes())?;
    *gz = enc.finish()?;
    stats.gzip_bytes = gz.len() as u64;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&path, &gz[..])?;
    Ok(stats)
}

/// Parses `1GiB`, `500MB`, `64M`, `2g`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad size `{text}`"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        _ => return Err(format!("bad size unit in `{text}`")),
    };
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert!(parse_size("ten").is_err());
    }

    #[test]
    fn plan_fills_the_target_and_starts_with_the_showcase() {
        let opts = Options {
            size: 8 << 20,
            ..Options::default()
        };
        let specs = plan(&opts).unwrap();
        assert!(specs[0].showcase && specs[0].region == 0);
        assert!(specs.iter().skip(1).all(|s| !s.showcase));
        assert!(specs.iter().all(|s| s.records >= 1));
    }
}
