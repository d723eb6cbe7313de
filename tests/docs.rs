//! The README and `docs/` agree with the registry and the list of known
//! variables.

#[test]
fn readme_rule_table_matches_the_registry() {
    let readme = include_str!("../README.md");
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
    let page = include_str!("../docs/configuration.md");
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
    let config = include_str!("../src/config.rs");
    let apply_env = &config[config.find("fn apply_env").unwrap()..];
    let apply_env = &apply_env[..apply_env[1..].find("\nfn ").unwrap_or(apply_env.len())];
    let mut used = variables(include_str!("../template.yaml"));
    used.extend(variables(apply_env));
    assert!(used.iter().any(|v| v == "TRAILGUARD_MODES"), "{used:?}");
    for name in used {
        assert!(
            trailguard::config::ENV_VARS.contains(&name.as_str()),
            "{name} is set or read but not in config::ENV_VARS"
        );
    }
}
