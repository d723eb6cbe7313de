//! `trailguard replay --format html` in a real browser: Debian's headless
//! Chromium renders the page of the repository's samples with no console
//! message, builds the table, honours the filters, shows hostile names as
//! text, and leaves a screenshot under the test's output directory.
//!
//! Needs `chromium` on PATH (or `CHROME_BIN`); `scripts/test`
//! installs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use trailguard_bench::synth::{self, Options};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A user name an attacker chose, as CloudTrail records it.
const HOSTILE: &str = r#"{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
  "eventTime": "2024-07-30T08:00:00Z", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
  "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/<script>alert(1)</script>",
                   "userName": "<script>alert(1)</script>"},
  "requestParameters": {"userName": "<img src=x onerror=alert(2)>"},
  "responseElements": {"accessKey": {"userName": "<img src=x onerror=alert(2)>", "accessKeyId": "AKIAHOSTILE0000000001", "status": "Active"}}}"#;

/// The test's own output directory, under `target/`.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn trailguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .current_dir(ROOT)
        .env_remove("TRAILGUARD_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn chromium_binary() -> String {
    if let Ok(path) = std::env::var("CHROME_BIN") {
        return path;
    }
    for name in ["chromium", "chromium-headless-shell", "chromium-browser"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return name.to_owned();
        }
    }
    panic!("no chromium on PATH: `apt-get install chromium` (scripts/test does) or set CHROME_BIN");
}

/// What one headless Chromium run printed.
struct Run {
    stdout: String,
    /// The page's console messages, from Chromium's log.
    console: Vec<String>,
}

/// Runs headless Chromium on `url` with a fresh profile and the flags that
/// keep it off the network, with `extra` (`--dump-dom`, `--screenshot=...`).
fn chromium(dir: &Path, url: &str, extra: &[&str]) -> Run {
    let profile = tempfile::tempdir_in(dir).unwrap();
    let mut child = Command::new(chromium_binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while waiting, or a chatty browser blocks on a full one.
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish rendering {url} in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = err.join().unwrap();
    Run {
        stdout: out.join().unwrap(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect(),
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Findings per rule, from the JSON output of the same replay.
fn findings_by_rule(args: &[&str]) -> BTreeMap<String, usize> {
    let out = trailguard(&[&["replay", "--format", "json"], args].concat());
    let mut by_rule = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let report: serde_json::Value = serde_json::from_str(line).unwrap();
        for f in report["findings"].as_array().unwrap() {
            *by_rule
                .entry(f["rule"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    by_rule
}

/// The rows the table drew (one `<tr title=location>` each).
fn drawn_rows(dom: &str) -> usize {
    dom.matches("<tr title=").count()
}

#[test]
fn console_messages_of_a_page_are_seen() {
    // Without this, a change of Chromium's log format would make the
    // report's "no console message" check pass whatever the page does.
    let dir = out_dir("html_report_canary");
    let page = dir.join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><body><script>null.x;</script></body>",
    )
    .unwrap();
    let run = chromium(&dir, &file_url(&page), &["--dump-dom"]);
    assert!(
        run.console.iter().any(|l| l.contains("Uncaught TypeError")),
        "{:?}",
        run.console
    );
}

#[test]
fn report_of_the_samples_renders_in_chromium() {
    let dir = out_dir("html_report");
    let hostile = dir.join("hostile.json");
    std::fs::write(&hostile, HOSTILE).unwrap();
    let inputs = ["events/", "tests/corpus/", hostile.to_str().unwrap()];
    let out = trailguard(&[&["replay", "--format", "html"], &inputs[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.join("report.html");
    std::fs::write(&page, &out.stdout).unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    let by_rule = findings_by_rule(&inputs);
    let total: usize = by_rule.values().sum();
    assert!(total > 50, "{by_rule:?}");
    // Nothing the page could fetch: no address of any kind.
    for needle in ["http:", "https:", "ftp:", "url("] {
        assert!(!html.contains(needle), "`{needle}` in the page");
    }

    let run = chromium(&dir, &file_url(&page), &["--dump-dom"]);
    assert_eq!(run.console, Vec::<String>::new(), "console messages");
    let dom = run.stdout;
    // The script ran to its end under the page's CSP and drew the first page.
    assert!(
        dom.contains(&format!("data-rows=\"{total}\"")),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert_eq!(drawn_rows(&dom), total.min(100));
    // The charts: one stacked bar per severity present, a bar per rule.
    for sev in ["critical", "high", "medium", "low"] {
        assert!(dom.contains(&format!("<rect class=\"sev-{sev}\"")), "{sev}");
    }
    for (rule, n) in &by_rule {
        assert!(
            dom.contains(&format!("<title>{rule}: {n}</title>")),
            "{rule}: {n}"
        );
    }
    // Hostile names are text in the table and the charts, never markup.
    assert!(
        dom.contains(
            "<td>arn:aws:iam::111122223333:user/&lt;script&gt;alert(1)&lt;/script&gt;</td>"
        )
    );
    assert!(!dom.contains("<img"), "an <img> element was created");
    assert_eq!(
        dom.matches("<script").count(),
        2,
        "only the page's own scripts"
    );

    // Filters from the address: a rule, then an actor by part of its name.
    let rule = "root-console-login";
    let run = chromium(
        &dir,
        &format!("{}#rule={rule}", file_url(&page)),
        &["--dump-dom"],
    );
    assert!(run.console.is_empty(), "{:?}", run.console);
    assert_eq!(drawn_rows(&run.stdout), by_rule[rule]);
    let run = chromium(
        &dir,
        &format!("{}#actor=%3Cscript%3E&severity=medium", file_url(&page)),
        &["--dump-dom"],
    );
    assert!(run.console.is_empty(), "{:?}", run.console);
    assert_eq!(drawn_rows(&run.stdout), 1);

    let shot = dir.join("report.png");
    let run = chromium(
        &dir,
        &file_url(&page),
        &[
            "--window-size=1280,2400",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(run.console.is_empty(), "{:?}", run.console);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000);
    println!("screenshot: {}", shot.display());
}

#[test]
fn charts_count_a_synthetic_archive_as_its_manifest_does() {
    let dir = out_dir("html_report_synth");
    let opts = Options {
        size: 4 << 20,
        violation_share: 0.03,
        days: 5,
        ..Options::default()
    };
    let manifest = synth::generate(&dir, &opts, 2, &|_, _| {}).unwrap();
    let logs = synth::logs_dir(&dir);
    let out = trailguard(&["replay", "--format", "html", logs.to_str().unwrap()]);
    assert!(out.status.success());
    // The same bytes whatever the number of jobs: a page can be diffed.
    let one_job = trailguard(&[
        "replay",
        "--format",
        "html",
        "-j",
        "1",
        logs.to_str().unwrap(),
    ]);
    assert!(out.stdout == one_job.stdout, "the page depends on --jobs");
    let html = String::from_utf8(out.stdout).unwrap();
    let count = |n: u64| {
        // The page separates thousands with a thin space.
        let digits = n.to_string();
        let mut s = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                s.push('\u{2009}');
            }
            s.push(c);
        }
        s
    };
    assert!(html.contains(&format!(
        "<b>{}</b><span>findings</span>",
        count(manifest.findings)
    )));
    for (account, n) in &manifest.findings_by_account {
        assert!(
            html.contains(&format!("<title>{account}: {}</title>", count(*n))),
            "{account}"
        );
    }
    for (day, n) in &manifest.findings_by_day {
        assert!(
            html.contains(&format!("<title>{day}: {} findings", count(*n))),
            "{day}"
        );
    }
    for (rule, n) in manifest.findings_by_rule.iter().filter(|(_, n)| **n > 0) {
        assert!(
            html.contains(&format!("<title>{rule}: {}</title>", count(*n))),
            "{rule}"
        );
    }
}

#[test]
fn unreadable_input_is_named_and_counted_and_the_page_still_written() {
    let dir = out_dir("html_report_unreadable");
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"Records\": [").unwrap();
    let out = trailguard(&[
        "replay",
        "--format",
        "html",
        "events/root-console-login.json",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`{}", broken.display())),
        "{stderr}"
    );
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.contains("<b>1</b><span>unreadable</span>"));
    assert!(html.contains("<b>1</b><span>findings</span>"));
    assert!(html.ends_with("</html>\n"));
}
