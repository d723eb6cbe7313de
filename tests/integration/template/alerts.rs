//! The alert state table: created with the schema of the config contract,
//! named to the function, and reachable with exactly the calls the code
//! makes on it.

use std::collections::BTreeSet;

use trailguard::config::Config;
use trailguard::effects::alert_state::PERMISSIONS;

use super::cfn::{STACK, Stack, strings};
use super::{function_env, main_template, role_statements};

const TABLE: &str = "AlertStateTable";

#[test]
fn the_state_table_has_the_contract_schema_on_demand_with_ttl() {
    let template = main_template();
    let table = &template["Resources"][TABLE];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["KeySchema"],
        serde_json::json!([{ "AttributeName": "pk", "KeyType": "HASH" }]),
        "one partition key `pk`, no sort key"
    );
    assert_eq!(
        p["AttributeDefinitions"],
        serde_json::json!([{ "AttributeName": "pk", "AttributeType": "S" }])
    );
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], "expires_at");
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
}

#[test]
fn the_function_is_given_the_table_and_trailguard_accepts_it() {
    let stack = Stack::new(main_template(), &[]);
    let env = function_env(&stack);
    let table = env
        .iter()
        .find(|(k, _)| k == "TRAILGUARD_STATE_TABLE")
        .map(|(_, v)| v.clone())
        .expect("TRAILGUARD_STATE_TABLE is set");
    assert!(table.starts_with(&format!("{STACK}-{TABLE}-")), "{table}");
    let config = Config::from_toml("", "template", env).unwrap();
    assert_eq!(config.alerts.state_table.as_deref(), Some(table.as_str()));
}

#[test]
fn the_role_grants_exactly_the_calls_made_on_the_table_and_only_on_it() {
    let stack = Stack::new(main_template(), &[]);
    let mut granted = BTreeSet::new();
    for s in role_statements(&stack) {
        let actions = strings(&s["Action"]);
        if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
            continue;
        }
        assert_eq!(s["Effect"], "Allow", "{s}");
        assert!(
            actions.iter().all(|a| a.starts_with("dynamodb:")),
            "the table's statement grants only DynamoDB calls: {s}"
        );
        assert_eq!(
            s["Resource"],
            format!("arn:test:{TABLE}.Arn"),
            "on the table only: {s}"
        );
        granted.extend(actions);
    }
    let used: BTreeSet<String> = PERMISSIONS.iter().map(|p| p.to_string()).collect();
    assert_eq!(granted, used);
}

#[test]
fn a_schedule_closes_the_grouping_windows_every_five_minutes() {
    let (_, f) = super::function(main_template());
    let sweep = &f["Properties"]["Events"]["CloseAlertWindows"];
    assert_eq!(sweep["Type"], "Schedule");
    assert_eq!(sweep["Properties"]["Schedule"], "rate(5 minutes)");
    let input: serde_json::Value =
        serde_json::from_str(sweep["Properties"]["Input"].as_str().expect("Input")).unwrap();
    assert!(trailguard::live::is_close_windows(&input), "{input}");
}

/// The Security Hub actions the role allows, with their resources.
fn hub_grants(stack: &Stack) -> Vec<(String, String)> {
    role_statements(stack)
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| {
            let resource = s["Resource"].as_str().unwrap_or("").to_owned();
            strings(&s["Action"])
                .into_iter()
                .filter(|a| a.starts_with("securityhub:"))
                .map(move |a| (a, resource.clone()))
        })
        .collect()
}

#[test]
fn security_hub_is_opt_in_and_grants_exactly_the_calls_made_on_the_accounts_own_product() {
    let template = main_template();
    let off = Stack::new(template, &[]);
    assert!(hub_grants(&off).is_empty());
    let config = Config::from_toml("", "template", function_env(&off)).unwrap();
    assert!(!config.alerts.security_hub);

    let on = Stack::new(template, &[("SecurityHub", "true")]);
    let config = Config::from_toml("", "template", function_env(&on)).unwrap();
    assert!(config.alerts.security_hub);
    let mut granted = hub_grants(&on);
    granted.sort();
    let mut used: Vec<&str> = trailguard::effects::hub::PERMISSIONS.to_vec();
    used.sort();
    assert_eq!(
        granted.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        used
    );
    let account = super::cfn::ACCOUNT;
    for (action, resource) in granted {
        let expected = match action.as_str() {
            "securityhub:BatchImportFindings" => {
                format!("arn:aws:securityhub:us-east-1:{account}:product/{account}/default")
            }
            _ => format!("arn:aws:securityhub:us-east-1:{account}:hub/default"),
        };
        assert_eq!(resource, expected, "{action}");
    }
}
