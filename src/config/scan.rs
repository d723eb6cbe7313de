//! `[scan]`: the scheduled credential scan's thresholds, in days.

use super::ConfigError;
use crate::rules::ScanSettings;

/// Every threshold is between a day and ten years.
pub(super) fn validate(scan: &ScanSettings) -> Result<(), ConfigError> {
    for (key, days) in [
        ("scan.key_rotation_days", scan.key_rotation_days),
        ("scan.unused_days", scan.unused_days),
        ("scan.root_recent_days", scan.root_recent_days),
    ] {
        if !(1..=3650).contains(&days) {
            return Err(ConfigError::BadValue {
                key: key.into(),
                value: days.to_string(),
                reason: "must be between 1 and 3650 days".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn thresholds_outside_a_day_to_ten_years_are_refused_naming_the_key() {
        for setting in ["key_rotation_days", "unused_days", "root_recent_days"] {
            for bad in [0, 3651] {
                let err = parse(&format!("[scan]\n{setting} = {bad}"))
                    .unwrap_err()
                    .to_string();
                assert_eq!(
                    err,
                    format!("`scan.{setting}`: `{bad}` must be between 1 and 3650 days")
                );
            }
            for good in [1, 3650] {
                let c = parse(&format!("[scan]\n{setting} = {good}")).unwrap();
                assert!(
                    toml::to_string(&c.scan)
                        .unwrap()
                        .contains(&format!("{setting} = {good}"))
                );
            }
        }
    }
}
