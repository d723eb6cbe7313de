//! The README agrees with the registry and the list of known variables.

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
fn readme_names_every_known_trailguard_variable() {
    let readme = include_str!("../README.md");
    for name in trailguard::config::ENV_VARS {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README does not name {name}"
        );
    }
}
