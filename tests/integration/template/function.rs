//! The function and its parameters: the Rust Lambda built by cargo lambda,
//! one mode parameter per remediable rule, and a configuration trailguard
//! accepts.

use std::collections::BTreeSet;

use serde_json::json;
use trailguard::config::{Config, DEFAULT_TOML};
use trailguard::rules::{self, Mode};

use super::cfn::{ROLE_ARN, Stack};
use super::{function, function_env, main_template, mode_parameters, repo};

#[test]
fn function_is_the_rust_lambda_built_by_cargo_lambda_on_arm64() {
    let (_, f) = function(main_template());
    let p = &f["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Architectures"], json!(["arm64"]));
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");

    let code_uri = repo().join(p["CodeUri"].as_str().expect("CodeUri"));
    let manifest: toml::Table = std::fs::read_to_string(code_uri.join("Cargo.toml"))
        .expect("CodeUri holds the Cargo.toml")
        .parse()
        .expect("Cargo.toml");
    let bins: Vec<&str> = manifest["bin"]
        .as_array()
        .expect("[[bin]] targets")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    let binary = f["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .expect("BuildProperties.Binary");
    assert_eq!(binary, "trailguard-lambda");
    assert!(
        bins.contains(&binary),
        "`{binary}` is not a [[bin]] of Cargo.toml: {bins:?}"
    );

    let invoke = &p["EventInvokeConfig"];
    assert!(invoke["MaximumRetryAttempts"].is_u64());
    assert!(invoke["MaximumEventAgeInSeconds"].is_u64());
    assert!(
        invoke["DestinationConfig"]["OnFailure"]["Destination"].is_object(),
        "failed invocations are kept"
    );
}

#[test]
fn samconfig_opts_in_to_the_cargo_lambda_beta_and_deploys_to_us_east_1() {
    let text = std::fs::read_to_string(repo().join("samconfig.toml")).expect("samconfig.toml");
    let config: toml::Table = text.parse().expect("samconfig.toml is TOML");
    let default = &config["default"];
    for command in ["build", "sync"] {
        assert_eq!(
            default[command]["parameters"]["beta_features"].as_bool(),
            Some(true),
            "`sam {command}` must not stop to ask about the rust-cargolambda beta"
        );
    }
    assert_eq!(
        default["global"]["parameters"]["region"].as_str(),
        Some("us-east-1")
    );
    let deploy = &default["deploy"]["parameters"];
    assert!(
        deploy["capabilities"]
            .as_str()
            .is_some_and(|c| c.split_whitespace().any(|c| c == "CAPABILITY_IAM")),
        "the template creates IAM resources"
    );
    assert_eq!(deploy["resolve_s3"].as_bool(), Some(true));
}

#[test]
fn every_remediable_rule_has_a_mode_parameter_and_no_other_rule_does() {
    let template = main_template();
    let params = mode_parameters(template);
    let remediable: BTreeSet<String> = rules::registry()
        .iter()
        .filter(|r| r.remediation.is_some())
        .map(|r| r.id.to_owned())
        .collect();
    assert_eq!(params.keys().cloned().collect::<BTreeSet<_>>(), remediable);
    for (rule, param) in &params {
        let decl = &template["Parameters"][param];
        assert_eq!(
            decl["AllowedValues"],
            json!(["alert", "remediate", "off"]),
            "{param} (mode of {rule})"
        );
        assert_eq!(
            decl["Default"], "alert",
            "{param}: alert is the safe default"
        );
    }
    let default = &template["Parameters"]["DefaultMode"];
    assert_eq!(default["AllowedValues"], json!(["alert", "off"]));
}

#[test]
fn the_function_gets_a_configuration_trailguard_accepts() {
    let template = main_template();
    let params = mode_parameters(template);
    let with_everything = [
        ("DefaultMode", "off"),
        (
            "OtherRuleModes",
            "root-api-call=alert, mfa-device-removed=off",
        ),
        ("UserPolicyAttachedMode", "remediate"),
        ("AccessKeyCreatedMode", "off"),
        (
            "ExemptPrincipals",
            "arn:aws:iam::111122223333:role/BreakGlass,arn:aws:iam::*:role/Admin*",
        ),
        ("ExemptUsers", "breakglass-*"),
        ("ExemptTag", "security:exempt"),
        ("GroupPrefix", "tg-"),
        ("GroupPath", "/guard/rails/"),
        ("AlertEmail", "security@example.com"),
        (
            "SlackWebhookSecretArn",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:slack-AbCdEf",
        ),
    ];
    for overrides in [&[][..], &with_everything[..]] {
        let stack = Stack::new(template, overrides);
        let env = function_env(&stack);
        let config = Config::from_toml(DEFAULT_TOML, "template.yaml", env.clone())
            .unwrap_or_else(|e| panic!("the template's environment is rejected: {e}"));
        for (rule, param) in &params {
            assert_eq!(
                config.mode_of(rule).unwrap().as_str(),
                stack.param(param),
                "{rule}"
            );
        }
        assert_eq!(config.self_role_arn.as_deref(), Some(ROLE_ARN));
        assert_eq!(config.remediation.group_path, stack.param("GroupPath"));
        assert_eq!(config.remediation.group_prefix, stack.param("GroupPrefix"));
        assert!(config.alerts.sns_topic_arn.is_some());
        if overrides.is_empty() {
            assert_eq!(config.mode_of("root-api-call").unwrap(), Mode::Alert);
            assert!(config.alerts.slack_webhook_secret_arn.is_none());
            continue;
        }
        assert_eq!(config.mode_of("root-api-call").unwrap(), Mode::Alert);
        assert_eq!(config.mode_of("mfa-device-removed").unwrap(), Mode::Off);
        assert_eq!(
            config.mode_of("root-console-login").unwrap(),
            Mode::Off,
            "DefaultMode"
        );
        assert_eq!(config.exemptions.users, ["breakglass-*"]);
        assert_eq!(config.exemptions.principals.len(), 2);
        assert_eq!(config.exemptions.tag.as_deref(), Some("security:exempt"));
        assert!(config.alerts.slack_webhook_secret_arn.is_some());
        // Every variable the template sets is one trailguard reads.
        for (name, value) in &env {
            assert!(
                value.is_empty() || config.origin.contains(name.as_str()),
                "{name} is set but trailguard does not read it ({})",
                config.origin
            );
        }
    }
}

/// The function's Secrets Manager client and its role's kms:ViaService
/// condition only reach a secret in the stack's region: a Slack secret
/// anywhere else fails the deployment, rather than every Slack alert later.
#[test]
fn a_slack_secret_outside_the_stack_region_fails_the_deployment() {
    let template = main_template();
    for (arn, outside) in [
        ("", false),
        (
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:slack-AbCdEf",
            false,
        ),
        (
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf",
            true,
        ),
        // The region's name elsewhere in the ARN does not count.
        (
            "arn:aws:secretsmanager:us-west-2:111122223333:secret:us-east-1-AbCdEf",
            true,
        ),
    ] {
        let stack = Stack::new(template, &[("SlackWebhookSecretArn", arn)]);
        assert_eq!(
            stack.condition("SlackSecretOutsideStackRegion"),
            outside,
            "{arn}"
        );
        let env = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| function_env(&stack)));
        match env {
            Ok(env) => {
                assert!(!outside, "{arn} is deployed");
                let value = env
                    .iter()
                    .find(|(k, _)| k == "TRAILGUARD_SLACK_WEBHOOK_SECRET_ARN")
                    .map(|(_, v)| v.as_str());
                assert_eq!(value, Some(arn));
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .unwrap_or("");
                assert!(outside, "{arn}: {message}");
                assert!(
                    message.contains("Fn::Select cannot select nonexistent value"),
                    "{message}"
                );
            }
        }
    }
}
