//! The SAM template and its companion stack, checked against the rule
//! registry so that neither can drift from the code:
//!
//! - both templates pass `cfn-lint` (which is what `sam validate --lint`
//!   runs, SAM transform included);
//! - the EventBridge patterns name exactly the catalogue's event sources and
//!   names, and a real pattern matcher (moto's) agrees on every sample;
//! - the execution role grants exactly the IAM and CloudTrail actions of the
//!   remediations that the mode parameters switch on, scoped as IAM allows;
//! - the function gets a configuration that trailguard accepts.
//!
//! `cfn-lint` and `moto[server]` come from PyPI; a test that needs one says
//! so when it is missing.

#[path = "template/cfn.rs"]
mod cfn;
#[path = "template/moto.rs"]
mod moto;
#[path = "template/samples.rs"]
mod samples;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use trailguard::config::{Config, DEFAULT_TOML};
use trailguard::event::CloudTrailEvent;
use trailguard::event::input::CLOUDTRAIL_DETAIL_TYPES;
use trailguard::rules::{self, Mode, Trigger};

use cfn::{ACCOUNT, ROLE_ARN, Stack, strings};

const MAIN: &str = "template.yaml";
const FORWARD: &str = "templates/forward-to-us-east-1.yaml";
/// IAM is global: its events reach EventBridge only in us-east-1, where the
/// main stack runs, so the forwarding stack leaves them out.
const IAM: &str = "iam.amazonaws.com";
/// EventBridge's default quota on the size of a rule's event pattern.
const PATTERN_QUOTA: usize = 2048;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn main_template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| cfn::load(&repo().join(MAIN)))
}

fn forward_template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| cfn::load(&repo().join(FORWARD)))
}

/// Runs a tool from PyPI, failing with the install hint when it is missing.
fn run_tool(program: &str, args: &[&str], install: &str) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): install it with `{install}`"))
}

// Linting --------------------------------------------------------------------

#[test]
fn cfn_lint_passes_on_both_templates() {
    let out = run_tool("cfn-lint", &[MAIN, FORWARD], "pip install cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// The function ---------------------------------------------------------------

/// The one SAM function of the template, with its logical id.
fn function(template: &Value) -> (&str, &Value) {
    let mut found = template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function");
    let (id, f) = found.next().expect("an AWS::Serverless::Function");
    assert!(found.next().is_none(), "one function only");
    (id.as_str(), f)
}

/// The logical id of the function's execution role.
fn role_id(template: &Value) -> &str {
    let (_, f) = function(template);
    let role = &f["Properties"]["Role"]["Fn::GetAtt"];
    assert_eq!(
        role[1], "Arn",
        "the function's Role is a role of the template"
    );
    role[0].as_str().expect("a role id")
}

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

/// The function's environment in a stack, as `(name, value)` pairs.
fn function_env(stack: &Stack) -> Vec<(String, String)> {
    let (_, f) = function(stack.template);
    let vars = stack
        .resolve(&f["Properties"]["Environment"]["Variables"])
        .expect("Environment.Variables");
    vars.as_object()
        .expect("a map")
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{k} is not a string: {v}"))
                .to_owned();
            (k.clone(), v)
        })
        .collect()
}

/// Which parameter sets the mode of each rule, read from `TRAILGUARD_MODES`
/// (`!Join [",", [..., !Sub "rule-id=${Param}", ...]]`).
fn mode_parameters(template: &Value) -> BTreeMap<String, String> {
    let (_, f) = function(template);
    let join = &f["Properties"]["Environment"]["Variables"]["TRAILGUARD_MODES"]["Fn::Join"];
    assert_eq!(join[0], ",", "TRAILGUARD_MODES is a comma-joined list");
    join[1]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|part| part["Fn::Sub"].as_str())
        .map(|sub| {
            let (rule, param) = sub.split_once('=').expect("rule-id=${Param}");
            let param = param
                .strip_prefix("${")
                .and_then(|p| p.strip_suffix('}'))
                .unwrap_or_else(|| panic!("`{sub}` is not rule-id=${{Param}}"));
            (rule.to_owned(), param.to_owned())
        })
        .collect()
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
            assert_eq!(config.mode(rule).as_str(), stack.param(param), "{rule}");
        }
        assert_eq!(config.self_role_arn.as_deref(), Some(ROLE_ARN));
        assert_eq!(config.remediation.group_path, stack.param("GroupPath"));
        assert_eq!(config.remediation.group_prefix, stack.param("GroupPrefix"));
        assert!(config.alerts.sns_topic_arn.is_some());
        if overrides.is_empty() {
            assert_eq!(config.mode("root-api-call"), Mode::Alert);
            assert!(config.alerts.slack_webhook_secret_arn.is_none());
            continue;
        }
        assert_eq!(config.mode("root-api-call"), Mode::Alert);
        assert_eq!(config.mode("mfa-device-removed"), Mode::Off);
        assert_eq!(config.mode("root-console-login"), Mode::Off, "DefaultMode");
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

// The execution role ---------------------------------------------------------

/// Every statement of every policy of the function's role in this stack.
fn role_statements(stack: &Stack) -> Vec<Value> {
    let template = stack.template;
    let role = role_id(template);
    let (_, f) = function(template);
    assert!(
        f["Properties"]["Policies"].is_null(),
        "the function's permissions belong on its role, not in SAM Policies"
    );
    let role_decl = &template["Resources"][role]["Properties"];
    assert!(
        role_decl["ManagedPolicyArns"].is_null(),
        "no managed policies: their permissions are not checked here"
    );
    let mut documents = Vec::new();
    if let Some(policies) = stack.resolve(&role_decl["Policies"]) {
        for p in policies.as_array().into_iter().flatten() {
            documents.push(p["PolicyDocument"].clone());
        }
    }
    let role_ref = json!({ "Ref": role });
    for (id, r) in stack.resources() {
        let props = &r["Properties"];
        let attached = match r["Type"].as_str() {
            Some("AWS::IAM::RolePolicy") => props["RoleName"] == role_ref,
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") => props["Roles"]
                .as_array()
                .is_some_and(|roles| roles.contains(&role_ref)),
            _ => false,
        };
        if attached {
            let doc = stack
                .resolve(&props["PolicyDocument"])
                .unwrap_or_else(|| panic!("{id} has a PolicyDocument"));
            documents.push(doc);
        }
    }
    documents
        .into_iter()
        .flat_map(|doc| match &doc["Statement"] {
            Value::Array(s) => s.clone(),
            s @ Value::Object(_) => vec![s.clone()],
            other => panic!("odd Statement {other}"),
        })
        .collect()
}

/// The IAM and CloudTrail actions the role allows.
fn allowed_guarded_actions(statements: &[Value]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in statements {
        if s["Effect"] != "Allow" {
            continue;
        }
        assert!(s["NotAction"].is_null(), "no NotAction in an Allow: {s}");
        for action in strings(&s["Action"]) {
            let service = action.split(':').next().unwrap_or("").to_ascii_lowercase();
            assert!(action != "*", "no Allow of every action: {s}");
            if service == "iam" || service == "cloudtrail" {
                assert!(
                    !action.contains('*'),
                    "no wildcard actions: `{action}` in {s}"
                );
                out.insert(action);
            }
        }
    }
    out
}

/// The mode parameters of the remediable rules, each given every value.
fn every_mode_combination() -> Vec<Vec<(String, &'static str)>> {
    let params: Vec<String> = mode_parameters(main_template()).into_values().collect();
    let mut combos: Vec<Vec<(String, &'static str)>> = vec![Vec::new()];
    for param in params {
        let mut longer = Vec::new();
        for combo in &combos {
            // "off" grants what "alert" grants: nothing.
            for mode in ["alert", "remediate"] {
                let mut c = combo.clone();
                c.push((param.clone(), mode));
                longer.push(c);
            }
        }
        combos = longer;
    }
    combos
}

#[test]
fn the_role_grants_exactly_what_the_enabled_remediations_declare() {
    let template = main_template();
    let params = mode_parameters(template);
    let combos = every_mode_combination();
    assert_eq!(combos.len(), 2usize.pow(params.len() as u32));
    for (combo, schedule) in combos.iter().flat_map(|c| [(c, "rate(1 day)"), (c, "off")]) {
        let mut overrides: Vec<(&str, &str)> =
            combo.iter().map(|(p, m)| (p.as_str(), *m)).collect();
        overrides.push(("ScanSchedule", schedule));
        let stack = Stack::new(template, &overrides);
        let granted = allowed_guarded_actions(&role_statements(&stack));
        let mut needed = BTreeSet::new();
        let mut enabled = Vec::new();
        if schedule != "off" {
            enabled.push("credential-scan");
            needed.extend(
                trailguard::scan::source::PERMISSIONS
                    .iter()
                    .map(|p| p.to_string()),
            );
        }
        for rule in rules::registry() {
            let Some(spec) = rule.remediation else {
                continue;
            };
            if stack.param(&params[rule.id]) == "remediate" {
                enabled.push(spec.id);
                needed.extend(spec.permissions.iter().map(|p| p.to_string()));
            }
        }
        let extra: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "remediations on: {enabled:?}\n  granted but not declared in the registry: {extra:?}\n  \
             declared in the registry but not granted: {missing:?}"
        );
    }
}

/// The IAM resource type each remediation action acts on, from the AWS
/// Service Authorization Reference. An action missing here must be added
/// after checking there.
fn resource_kind(action: &str) -> &'static str {
    match action {
        "iam:AddUserToGroup"
        | "iam:AttachGroupPolicy"
        | "iam:CreateGroup"
        | "iam:DeleteGroupPolicy"
        | "iam:DetachGroupPolicy"
        | "iam:GetGroup"
        | "iam:GetGroupPolicy"
        | "iam:ListAttachedGroupPolicies"
        | "iam:ListGroupPolicies"
        | "iam:PutGroupPolicy"
        | "iam:RemoveUserFromGroup" => "group",
        "iam:DeleteUserPolicy"
        | "iam:DetachUserPolicy"
        | "iam:GetAccessKeyLastUsed"
        | "iam:GetUser"
        | "iam:GetUserPolicy"
        | "iam:ListAccessKeys"
        | "iam:ListAttachedUserPolicies"
        | "iam:ListGroupsForUser"
        | "iam:ListUserPolicies"
        | "iam:ListUserTags"
        | "iam:UpdateAccessKey" => "user",
        "iam:GenerateCredentialReport"
        | "iam:GetAccountPasswordPolicy"
        | "iam:GetAccountSummary"
        | "iam:GetCredentialReport"
        | "iam:ListUsers"
        | "iam:ListAccountAliases"
        | "iam:UpdateAccountPasswordPolicy" => "account",
        "cloudtrail:GetTrail" | "cloudtrail:GetTrailStatus" | "cloudtrail:StartLogging" => "trail",
        other => panic!(
            "`{other}` is not in resource_kind(): look up its resource type in the \
             Service Authorization Reference and add it"
        ),
    }
}

#[test]
fn remediation_permissions_are_scoped_to_the_group_path_and_to_users() {
    let template = main_template();
    let all_on: Vec<(String, &str)> = mode_parameters(template)
        .into_values()
        .map(|p| (p, "remediate"))
        .collect();
    let overrides: Vec<(&str, &str)> = all_on.iter().map(|(p, m)| (p.as_str(), *m)).collect();
    let stack = Stack::new(template, &overrides);
    let group_path_scoped: BTreeSet<&str> = rules::remediations()
        .iter()
        .filter(|r| r.scoped_to_group_path)
        .flat_map(|r| r.permissions.iter().copied())
        .collect();
    let path = stack.param("GroupPath");
    for s in role_statements(&stack) {
        if s["Effect"] != "Allow" {
            continue;
        }
        let resources = strings(&s["Resource"]);
        for action in strings(&s["Action"]) {
            if !(action.starts_with("iam:") || action.starts_with("cloudtrail:")) {
                continue;
            }
            let expected = match resource_kind(&action) {
                "group" if group_path_scoped.contains(action.as_str()) => {
                    format!("arn:aws:iam::{ACCOUNT}:group{path}*")
                }
                "group" => format!("arn:aws:iam::{ACCOUNT}:group/*"),
                "user" => format!("arn:aws:iam::{ACCOUNT}:user/*"),
                "account" => "*".to_owned(),
                "trail" => format!("arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"),
                _ => unreachable!(),
            };
            assert_eq!(resources, [expected], "resource of `{action}`");
            assert!(s["Condition"].is_null(), "`{action}` is unconditional");
        }
    }
    assert!(
        path.len() > 1,
        "GroupPath `/` would scope the group actions to every group"
    );
}

#[test]
fn the_role_may_never_change_itself() {
    let stack = Stack::new(main_template(), &[]);
    let denies_self = role_statements(&stack).iter().any(|s| {
        s["Effect"] == "Deny"
            && s["Condition"].is_null()
            && strings(&s["Action"]).contains(&"iam:*".to_owned())
            && strings(&s["Resource"]).contains(&ROLE_ARN.to_owned())
    });
    assert!(
        denies_self,
        "an unconditional Deny of iam:* on the role's own ARN"
    );
}

// The event patterns ---------------------------------------------------------

/// `eventSource -> eventNames` the registry's rules look at, and whether a
/// rule looks at any call by root.
fn registry_catalogue() -> (BTreeMap<String, BTreeSet<String>>, bool) {
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut any_root = false;
    for rule in rules::registry() {
        if let Trigger::AnyRootCall = rule.trigger {
            any_root = true;
        }
        for (source, names) in rule.trigger.sources() {
            sources
                .entry(source.to_owned())
                .or_default()
                .extend(names.iter().map(|n| n.to_string()));
        }
    }
    (sources, any_root)
}

/// The pattern of the one EventBridge rule of a stack.
fn event_pattern(stack: &Stack) -> Value {
    let mut rules = stack
        .resources()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule");
    let (_, rule) = rules.next().expect("an AWS::Events::Rule");
    assert!(rules.next().is_none(), "one EventBridge rule");
    assert_eq!(
        rule["Properties"]["State"], "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        "root's read-only calls reach only rules in this state"
    );
    stack
        .resolve(&rule["Properties"]["EventPattern"])
        .expect("an EventPattern")
}

/// What a pattern covers, read back in the registry's terms.
fn pattern_catalogue(pattern: &Value) -> (BTreeMap<String, BTreeSet<String>>, bool) {
    let detail_types: BTreeSet<String> = strings(&pattern["detail-type"]).into_iter().collect();
    let expected: BTreeSet<String> = CLOUDTRAIL_DETAIL_TYPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(detail_types, expected, "detail-type");
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut root = false;
    for branch in pattern["detail"]["$or"].as_array().expect("detail.$or") {
        if *branch == json!({"userIdentity": {"type": ["Root"]}}) {
            root = true;
            continue;
        }
        let keys: BTreeSet<&str> = branch
            .as_object()
            .expect("a branch")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["eventName", "eventSource"]),
            "branch {branch}"
        );
        for source in strings(&branch["eventSource"]) {
            sources
                .entry(source)
                .or_default()
                .extend(strings(&branch["eventName"]));
        }
    }
    (sources, root)
}

/// The `$or` branches a pattern should have, as YAML to paste.
fn suggested_branches(sources: &BTreeMap<String, BTreeSet<String>>, root: bool) -> String {
    let mut out = String::new();
    for (source, names) in sources {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        out.push_str(&format!(
            "            - eventSource: [{source}]\n              eventName: [{}]\n",
            names.join(", ")
        ));
    }
    if root {
        out.push_str("            - userIdentity:\n                type: [Root]\n");
    }
    out
}

#[test]
fn the_event_pattern_names_exactly_the_catalogue() {
    let (catalogue, any_root) = registry_catalogue();
    let main = event_pattern(&Stack::new(main_template(), &[]));
    let (covered, root) = pattern_catalogue(&main);
    assert!(
        covered == catalogue && root == any_root,
        "{MAIN}'s pattern drifted from the registry; its detail.$or should be:\n{}",
        suggested_branches(&catalogue, any_root)
    );

    let regional: BTreeMap<_, _> = catalogue
        .into_iter()
        .filter(|(source, _)| source != IAM)
        .collect();
    let forward = event_pattern(&Stack::new(forward_template(), &[]));
    let (covered, root) = pattern_catalogue(&forward);
    assert!(
        covered == regional && root == any_root,
        "{FORWARD}'s pattern drifted from the registry; its detail.$or should be:\n{}",
        suggested_branches(&regional, any_root)
    );
    let keys: Vec<&String> = forward["detail"]
        .as_object()
        .expect("detail")
        .keys()
        .collect();
    assert_eq!(keys, ["$or"]);
}

#[test]
fn the_event_pattern_leaves_out_the_functions_own_role_and_fits_the_quota() {
    let pattern = event_pattern(&Stack::new(main_template(), &[]));
    assert_eq!(
        pattern["detail"]["userIdentity"],
        json!({"sessionContext": {"sessionIssuer": {"$or": [
            {"arn": [{"anything-but": ROLE_ARN}]},
            {"arn": [{"exists": false}]},
        ]}}}),
        "anything-but the function's role ARN, or no sessionIssuer ARN at all"
    );
    let size = pattern.to_string().len();
    assert!(
        size <= PATTERN_QUOTA,
        "the pattern is {size} characters; EventBridge's default quota is {PATTERN_QUOTA}"
    );
}

/// Should the pattern let this envelope through, according to the registry?
fn catalogue_covers(envelope: &Value, forwarding: bool) -> bool {
    let detail_type = envelope["detail-type"].as_str().unwrap_or("");
    if !CLOUDTRAIL_DETAIL_TYPES.contains(&detail_type) || !envelope["detail"].is_object() {
        return false;
    }
    let Ok(event) = CloudTrailEvent::from_json(&envelope["detail"].to_string()) else {
        return false;
    };
    let own_role =
        envelope["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == ROLE_ARN;
    if own_role && !forwarding {
        return false;
    }
    rules::registry().iter().any(|rule| match rule.trigger {
        Trigger::AnyRootCall => event.is_root(),
        trigger => trigger.matches(&event) && !(forwarding && event.source() == IAM),
    })
}

/// The caller of a sample replaced by a role session.
fn as_role_session(envelope: &Value, issuer: Value) -> Value {
    let role_name = issuer["arn"]
        .as_str()
        .and_then(|arn| arn.rsplit('/').next())
        .unwrap_or("some-role")
        .to_owned();
    let mut e = envelope.clone();
    e["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID:trailguard",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/trailguard"),
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": issuer,
            "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    });
    e
}

/// The caller of a sample replaced by an IAM user.
fn by_iam_user(envelope: &Value) -> Value {
    let mut e = envelope.clone();
    e["detail"]["userIdentity"] = json!({
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID",
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "accountId": ACCOUNT,
        "userName": "alice",
    });
    e
}

/// Sends the envelopes through moto's EventBridge and returns, for each
/// rule, the indices of the envelopes it matched. moto (5.2) does not
/// implement `TestEventPattern`, so each pattern becomes a rule whose target
/// is an SQS queue, and the events go in with `PutEvents`: the same matcher
/// (`$or`, `anything-but`, `exists` included) either way.
fn match_with_moto(patterns: &[(&str, &Value)], envelopes: &[Value]) -> Vec<BTreeSet<usize>> {
    let moto = moto::Moto::start();
    let mut queues = Vec::new();
    for (name, pattern) in patterns {
        let url = moto.call("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": name}))["QueueUrl"]
            .as_str()
            .expect("a queue URL")
            .to_owned();
        let arn = moto.call(
            "sqs",
            "AmazonSQS.GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )["Attributes"]["QueueArn"]
            .as_str()
            .expect("a queue ARN")
            .to_owned();
        moto.call(
            "events",
            "AWSEvents.PutRule",
            json!({"Name": name, "EventPattern": pattern.to_string(), "State": "ENABLED"}),
        );
        // The queue receives just the sample's marker: moto then builds
        // one JSONPath per match instead of its default eight (slow).
        let target = json!({
            "Id": "queue",
            "Arn": arn,
            "InputTransformer": {
                "InputPathsMap": {"marker": "$.resources"},
                "InputTemplate": "<marker>",
            },
        });
        moto.call(
            "events",
            "AWSEvents.PutTargets",
            json!({"Rule": name, "Targets": [target]}),
        );
        queues.push(url);
    }
    for (chunk_no, chunk) in envelopes.chunks(10).enumerate() {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| {
                json!({
                    "Source": e["source"].as_str().unwrap_or("aws.unknown"),
                    "DetailType": e["detail-type"].as_str().unwrap_or("Unknown"),
                    "Detail": e["detail"].to_string(),
                    // The sample's index travels in `resources`, which no
                    // pattern looks at.
                    "Resources": [format!("urn:sample:{}", chunk_no * 10 + i)],
                })
            })
            .collect();
        let answer = moto.call("events", "AWSEvents.PutEvents", json!({"Entries": entries}));
        assert_eq!(answer["FailedEntryCount"], 0, "PutEvents: {answer}");
    }
    queues
        .iter()
        .map(|url| {
            let mut matched = BTreeSet::new();
            loop {
                let got = moto.call(
                    "sqs",
                    "AmazonSQS.ReceiveMessage",
                    json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 600}),
                );
                let messages = got["Messages"].as_array().cloned().unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    let body: Value =
                        serde_json::from_str(m["Body"].as_str().expect("a body")).expect("JSON");
                    let marker = body[0].as_str().expect("the sample marker");
                    let index = marker["urn:sample:".len()..].parse().expect("an index");
                    matched.insert(index);
                }
            }
            matched
        })
        .collect()
}

#[test]
fn moto_matches_the_patterns_on_exactly_what_the_catalogue_watches() {
    let samples = samples::all();
    assert!(
        samples.len() >= 20,
        "too few samples ({}) in {:?}",
        samples.len(),
        samples::dirs()
    );
    let default = Config::default();
    let own = Config::from_toml(
        DEFAULT_TOML,
        "test",
        [("TRAILGUARD_SELF_ROLE_ARN".to_owned(), ROLE_ARN.to_owned())],
    )
    .expect("a config with the role");

    let mut names = Vec::new();
    let mut envelopes = Vec::new();
    let mut fired = Vec::new();
    let mut calls_varied = BTreeSet::new();
    for s in &samples {
        let fires = CloudTrailEvent::from_json(&s.envelope["detail"].to_string())
            .ok()
            .filter(|_| {
                let t = s.envelope["detail-type"].as_str().unwrap_or("");
                CLOUDTRAIL_DETAIL_TYPES.contains(&t)
            })
            .is_some_and(|e| !trailguard::evaluate(&e, &default).decisions.is_empty());
        names.push(s.name.clone());
        envelopes.push(s.envelope.clone());
        fired.push(fires);
        let call = (
            s.envelope["detail"]["eventSource"].to_string(),
            s.envelope["detail"]["eventName"].to_string(),
        );
        if !fires || !calls_varied.insert(call) {
            continue;
        }
        // The same call (one sample of each) by the function's own role, by
        // another role whose ARN starts like it, and by a session without an
        // issuer ARN.
        let variants = [
            (
                "own role",
                json!({"type": "Role", "arn": ROLE_ARN, "accountId": ACCOUNT}),
            ),
            (
                "look-alike role",
                json!({"type": "Role", "arn": format!("{ROLE_ARN}-2"), "accountId": ACCOUNT}),
            ),
            ("no issuer", json!({})),
        ];
        for (label, issuer) in variants {
            let e = as_role_session(&s.envelope, issuer);
            if label == "own role" {
                let event = CloudTrailEvent::from_json(&e["detail"].to_string()).expect("parses");
                assert!(
                    trailguard::evaluate(&event, &own).ignored.is_some(),
                    "the engine ignores its own role too: {}",
                    s.name
                );
            }
            names.push(format!("{} ({label})", s.name));
            envelopes.push(e);
            fired.push(false);
        }
    }
    // Calls outside the catalogue by an IAM user: an S3 bucket created, and
    // every such sample.
    for s in &samples {
        if !s.envelope["detail"].is_object() {
            continue;
        }
        let e = by_iam_user(&s.envelope);
        if !catalogue_covers(&e, false) {
            names.push(format!("{} (by an IAM user)", s.name));
            envelopes.push(e);
            fired.push(false);
        }
    }
    let bucket = samples::envelope(json!({
        "eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "CreateBucket",
        "eventType": "AwsApiCall", "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
        "requestParameters": {"bucketName": "example"}, "responseElements": null,
    }))
    .expect("an envelope");
    names.push("s3 CreateBucket (by an IAM user)".into());
    envelopes.push(by_iam_user(&bucket));
    fired.push(false);

    let main = event_pattern(&Stack::new(main_template(), &[]));
    let forward = event_pattern(&Stack::new(forward_template(), &[]));
    let matched = match_with_moto(&[("main", &main), ("forward", &forward)], &envelopes);

    let mut wrong = Vec::new();
    for (i, envelope) in envelopes.iter().enumerate() {
        for (which, forwarding, matched) in
            [(MAIN, false, &matched[0]), (FORWARD, true, &matched[1])]
        {
            let expected = catalogue_covers(envelope, forwarding);
            let got = matched.contains(&i);
            if got != expected {
                wrong.push(format!(
                    "{which}: {} {} (expected {})",
                    names[i],
                    if got { "matched" } else { "did not match" },
                    if expected { "a match" } else { "no match" },
                ));
            }
            if fired[i] && !forwarding {
                assert!(
                    expected,
                    "a rule fires on {} but the catalogue misses it",
                    names[i]
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "moto disagrees with the catalogue:\n{}",
        wrong.join("\n")
    );

    // The checks above are only as good as the samples: make sure they
    // exercised every way in and out.
    let hits =
        |label: &str, m: &BTreeSet<usize>| m.iter().filter(|&&i| names[i].contains(label)).count();
    assert!(
        fired.iter().filter(|&&f| f).count() >= 10,
        "samples on which rules fire"
    );
    assert_eq!(hits("(own role)", &matched[0]), 0);
    assert!(hits("(look-alike role)", &matched[0]) > 0);
    assert!(hits("(no issuer)", &matched[0]) > 0);
    assert_eq!(hits("(by an IAM user)", &matched[0]), 0);
    assert!(
        names
            .iter()
            .filter(|n| n.contains("(by an IAM user)"))
            .count()
            > 10
    );
    assert!(
        envelopes
            .iter()
            .enumerate()
            .any(|(i, e)| !matched[0].contains(&i)
                && e["detail-type"] == "AWS API Call via CloudTrail"),
        "some CloudTrail calls outside the catalogue"
    );
    assert!(
        envelopes
            .iter()
            .enumerate()
            .any(|(i, e)| !matched[0].contains(&i) && e["source"] == "aws.ec2"),
        "a non-CloudTrail event"
    );
}
