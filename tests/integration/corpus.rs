//! Real CloudTrail events from public sources (`tests/corpus/`, origins in
//! `PROVENANCE.tsv`): every one parses, and each fires exactly the rules its
//! row of the golden table `expected.tsv` names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trailguard::event::input::{self, Item};
use trailguard::{Config, evaluate};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = walkdir::WalkDir::new(CORPUS)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(CORPUS).unwrap().display().to_string()
}

/// `file -> "rule,rule;rule"` (records separated by `;`).
fn table(name: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(Path::new(CORPUS).join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (file, rest) = l.split_once('\t').unwrap();
            (file.to_owned(), rest.to_owned())
        })
        .collect()
}

/// The rules each record of a file fires, in the table's notation.
fn fired(path: &Path, config: &Config) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut per_record = Vec::new();
    input::parse(&bytes, &relative(path), &mut |located| {
        let item = located
            .item
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", located.location));
        let mut rules: Vec<&str> = match item {
            Item::CloudTrail { event, .. } => evaluate(&event, config)
                .decisions
                .iter()
                .map(|d| d.finding.rule)
                .collect(),
            Item::Other(_) | Item::Digest => Vec::new(),
        };
        rules.sort();
        per_record.push(if rules.is_empty() {
            "-".to_owned()
        } else {
            rules.join(",")
        });
    });
    per_record.join(";")
}

#[test]
fn every_corpus_event_parses_and_fires_the_rules_of_the_golden_table() {
    let expected = table("expected.tsv");
    let config = Config::default();
    let files = corpus_files();
    assert!(
        files.len() >= 100,
        "corpus went missing: {} files",
        files.len()
    );
    let mut mismatches = Vec::new();
    for path in &files {
        let name = relative(path);
        let got = fired(path, &config);
        match expected.get(&name) {
            Some(want) if *want == got => {}
            Some(want) => mismatches.push(format!("{name}: expected {want}, got {got}")),
            None => mismatches.push(format!("{name}: not in expected.tsv (fires {got})")),
        }
    }
    assert!(
        mismatches.is_empty(),
        "decisions changed:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(
        expected.len(),
        files.len(),
        "expected.tsv names files that are gone"
    );
}

#[test]
fn every_rule_fires_on_at_least_one_real_or_sample_event() {
    let mut seen: Vec<String> = table("expected.tsv")
        .values()
        .flat_map(|v| v.split([';', ',']).map(String::from).collect::<Vec<_>>())
        .collect();
    let samples =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/events/expected.tsv"))
            .unwrap();
    for line in samples.lines().filter(|l| !l.starts_with('#')) {
        for d in line.split('\t').nth(1).unwrap().split(' ') {
            seen.push(d.split(':').next().unwrap().to_owned());
        }
    }
    // Scan rules fire on no event; the scan's own tests cover them.
    let event_rules = trailguard::rules::registry()
        .iter()
        .filter(|r| r.trigger().is_some());
    for rule in event_rules {
        assert!(
            seen.iter().any(|s| s == rule.id),
            "no event fires {}",
            rule.id
        );
    }
}

#[test]
fn every_corpus_file_has_a_provenance_row() {
    let provenance = std::fs::read_to_string(Path::new(CORPUS).join("PROVENANCE.tsv")).unwrap();
    let listed: Vec<&str> = provenance
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    for path in corpus_files() {
        let name = relative(&path);
        assert!(
            listed.contains(&name.as_str()),
            "{name} has no PROVENANCE.tsv row"
        );
    }
}
