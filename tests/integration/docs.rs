//! The README and `docs/` agree with the registry, the list of known
//! variables and each other: every relative link leads somewhere.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

#[test]
fn readme_rule_table_matches_the_registry() {
    let readme = include_str!("../../README.md");
    for rule in trailguard::rules::registry() {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", rule.id)))
            .unwrap_or_else(|| panic!("README has no row for {}", rule.id));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(
            cells[2].starts_with(rule.severity.as_str()),
            "{}: severity {}",
            rule.id,
            cells[2]
        );
        for control in rule.controls {
            assert!(
                cells[4].contains(control),
                "{}: control {control} missing",
                rule.id
            );
        }
        match rule.remediation {
            Some(r) => assert!(
                cells[5].contains(&format!("`{}`", r.id)),
                "{}: remediation",
                rule.id
            ),
            None => assert!(cells[5].starts_with('—'), "{}: remediation", rule.id),
        }
    }
}

#[test]
fn configuration_page_names_every_known_trailguard_variable() {
    let page = include_str!("../../docs/configuration.md");
    for name in trailguard::config::ENV_VARS {
        assert!(
            page.contains(&format!("`{name}`")),
            "docs/configuration.md does not name {name}"
        );
    }
}

/// `TRAILGUARD_*` names in `text`, prefixes (`TRAILGUARD_SCAN_`) left out.
fn variables(text: &str) -> Vec<String> {
    text.match_indices("TRAILGUARD_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.ends_with('_'))
        .collect()
}

/// A variable the template sets or `apply_env` reads but `ENV_VARS` does
/// not list would fail every cold start as unknown: this names it first.
#[test]
fn every_variable_the_template_sets_or_the_config_reads_is_known() {
    let config = include_str!("../../src/config/env.rs");
    let apply_env = &config[config.find("fn apply_env").unwrap()..];
    let apply_env = &apply_env[..apply_env[1..].find("\nfn ").unwrap_or(apply_env.len())];
    let mut used = variables(include_str!("../../template.yaml"));
    used.extend(variables(apply_env));
    assert!(used.iter().any(|v| v == "TRAILGUARD_MODES"), "{used:?}");
    for name in used {
        assert!(
            trailguard::config::ENV_VARS.contains(&name.as_str()),
            "{name} is set or read but not in config::ENV_VARS"
        );
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `docs/*.md`, in name order.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages
}

/// The README and every page of `docs/`.
fn documents() -> Vec<PathBuf> {
    let mut documents = vec![root().join("README.md")];
    documents.extend(pages());
    documents
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with fenced code blocks and inline code spans blanked: a `](` in
/// an example is not a link.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    // A code span may wrap onto the next line; a paragraph ends it.
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if line.trim().is_empty() {
            in_code = false;
        }
        if !fenced {
            for c in line.chars() {
                if c == '`' {
                    in_code = !in_code;
                }
                out.push(if in_code || c == '`' { ' ' } else { c });
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of the inline links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let prose = prose(text);
    prose
        .match_indices("](")
        .map(|(at, _)| {
            let rest = &prose[at + 2..];
            // Parentheses inside a target come in pairs; the link ends at
            // the one that closes the opening `(`.
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|&(_, c)| match c {
                    '(' => {
                        depth += 1;
                        false
                    }
                    ')' if depth == 0 => true,
                    ')' => {
                        depth -= 1;
                        false
                    }
                    _ => false,
                })
                .map_or(rest.len(), |(i, _)| i);
            // A title (`[t](url "title")`) follows the target after a space.
            rest[..end]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// GitHub's anchor for a heading: lowercase, spaces to hyphens, every
/// other character but letters, digits, `-` and `_` dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of the headings of `text`; a repeated heading gets `-1`,
/// `-2`... as on GitHub.
fn anchors(text: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        let Some(heading) = line
            .strip_prefix('#')
            .map(|h| h.trim_start_matches('#'))
            .and_then(|h| h.strip_prefix(' '))
        else {
            continue;
        };
        let base = slug(heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while !anchors.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
    }
    anchors
}

/// What is wrong with the link `target` written in `from`, if anything.
fn dead_link(from: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        from.to_path_buf()
    } else {
        from.parent().unwrap().join(path)
    };
    if !file.exists() {
        let name = file.strip_prefix(root()).unwrap_or(&file);
        return Some(format!("`{target}`: no file {}", name.display()));
    }
    let anchor = anchor?;
    if file.extension().is_none_or(|ext| ext != "md") {
        return Some(format!(
            "`{target}`: an anchor into a file that is not Markdown"
        ));
    }
    if !anchors(&read(&file)).contains(anchor) {
        return Some(format!("`{target}`: no heading `#{anchor}` in {path}"));
    }
    None
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file_and_heading() {
    let mut checked = 0;
    let mut dead = Vec::new();
    for document in documents() {
        for target in link_targets(&read(&document)) {
            checked += 1;
            if let Some(why) = dead_link(&document, &target) {
                let name = document.strip_prefix(root()).unwrap_or(&document);
                dead.push(format!("{}: {why}", name.display()));
            }
        }
    }
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
    assert!(
        checked >= 20,
        "only {checked} links found: is the parser blind?"
    );
}

#[test]
fn the_readme_links_every_docs_page_and_each_page_links_back() {
    let readme = include_str!("../../README.md");
    let pages = pages();
    assert!(pages.len() >= 8, "{pages:?}");
    for page in pages {
        let name = page.file_name().unwrap().to_str().unwrap();
        assert!(
            link_targets(readme)
                .iter()
                .any(|t| t.split('#').next() == Some(&format!("docs/{name}"))),
            "README does not link docs/{name}"
        );
        let text = read(&page);
        let mut lines = text.lines();
        let title = lines.next().unwrap_or("");
        assert!(
            title.starts_with("# ") && !title[2..].trim().is_empty(),
            "docs/{name} does not start with a title"
        );
        assert!(
            link_targets(&text).iter().any(|t| t == "../README.md"),
            "docs/{name} does not link back to the README"
        );
    }
}

#[test]
fn the_link_check_catches_what_a_split_leaves_behind() {
    let readme = root().join("README.md");
    let text = "See [rules](docs/rules.md#root's-own-keys), [x](docs/gone.md), \
                [y](#no-such-heading), `[z](not/a/link.md)` and [ok](#the-rules).";
    let dead: Vec<String> = link_targets(text)
        .iter()
        .filter_map(|t| dead_link(&readme, t))
        .collect();
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert_eq!(slug("`trailguard handle`"), "trailguard-handle");
    assert_eq!(slug("Root's own keys"), "roots-own-keys");
    assert_eq!(
        slug("The EventBridge pattern and regions"),
        "the-eventbridge-pattern-and-regions"
    );
}

#[test]
fn the_grouping_table_of_the_alerts_page_is_the_registrys() {
    let page = include_str!("../../docs/alerts.md");
    let table = trailguard::rules::grouping::markdown_table();
    assert!(
        page.contains(&table),
        "docs/alerts.md must hold the grouping table as the registry makes it:\n{table}"
    );
}
