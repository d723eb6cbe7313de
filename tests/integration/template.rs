//! The SAM template and its companion stack, checked against the rule
//! registry so that neither can drift from the code:
//!
//! - both templates pass `cfn-lint` (which is what `sam validate --lint`
//!   runs, SAM transform included) for the IAM region of every partition,
//!   and deploy there with no ARN, region or domain of another partition;
//! - the EventBridge patterns take only `aws.*` sources and name exactly the
//!   catalogue's event sources and names, and a real pattern matcher
//!   (moto's) agrees on every sample, forged sources included;
//! - the execution role grants exactly the IAM and CloudTrail actions of the
//!   remediations that the mode parameters switch on, scoped as IAM allows,
//!   under denies that keep a compromised function from granting admin
//!   policies, detaching AWS's quarantine policies or changing exempt users;
//! - the function gets a configuration that trailguard accepts.
//!
//! moto does not evaluate IAM conditions, so the role's conditions are
//! checked here on the template's text, resolved for every mode combination.
//!
//! `cfn-lint` and `moto[server]` come from PyPI; a test that needs one says
//! so when it is missing.

mod cfn;
mod moto;
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

use cfn::{ACCOUNT, ROLE_ARN, Stack, partition_of, strings};

const MAIN: &str = "template.yaml";
const FORWARD: &str = "templates/forward-to-us-east-1.yaml";
/// IAM is global: its events reach EventBridge only in us-east-1, where the
/// main stack runs, so the forwarding stack leaves them out.
const IAM: &str = "iam.amazonaws.com";
/// EventBridge's default quota on the size of a rule's event pattern.
const PATTERN_QUOTA: usize = 2048;
/// The region of each partition (aws, aws-us-gov, aws-cn) where IAM's events
/// reach EventBridge, so where the main stack runs.
const IAM_REGIONS: [&str; 3] = ["us-east-1", "us-gov-west-1", "cn-north-1"];
/// Other regions of the same three partitions.
const OTHER_REGIONS: [&str; 3] = ["eu-west-1", "us-gov-east-1", "cn-northwest-1"];

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
fn cfn_lint_passes_on_both_templates_in_the_iam_region_of_every_partition() {
    let mut args = vec!["--regions"];
    args.extend(IAM_REGIONS);
    args.extend(["--", MAIN, FORWARD]);
    let out = run_tool("cfn-lint", &args, "pip install cfn-lint");
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

// The execution role ---------------------------------------------------------

/// A policy document as IAM reads it: CloudFormation also takes one as a
/// JSON string (the template does, where a condition key holds a parameter).
fn policy_document(doc: Value, id: &str) -> Value {
    match doc {
        Value::String(text) => serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{id}: the policy string is not JSON ({e}):\n{text}")),
        doc => doc,
    }
}

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
            documents.push(policy_document(p["PolicyDocument"].clone(), role));
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
            documents.push(policy_document(doc, id));
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
                trailguard::scan::read::PERMISSIONS
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
        "iam:GetPolicy" => "policy",
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
            let expected: Vec<String> = match resource_kind(&action) {
                "group" if group_path_scoped.contains(action.as_str()) => {
                    vec![format!("arn:aws:iam::{ACCOUNT}:group{path}*")]
                }
                "group" => vec![format!("arn:aws:iam::{ACCOUNT}:group/*")],
                "user" => vec![format!("arn:aws:iam::{ACCOUNT}:user/*")],
                "account" => vec!["*".to_owned()],
                "trail" => vec![format!("arn:aws:cloudtrail:*:{ACCOUNT}:trail/*")],
                // The account's own managed policies and AWS managed ones.
                "policy" => vec![
                    format!("arn:aws:iam::{ACCOUNT}:policy/*"),
                    "arn:aws:iam::aws:policy/*".to_owned(),
                ],
                _ => unreachable!(),
            };
            assert_eq!(resources, expected, "resource of `{action}`");
            if action == "iam:AttachGroupPolicy" {
                // Checked for every mode combination in
                // the_guardrails_hold_in_every_mode_combination.
                assert!(s["Condition"].is_object(), "`{action}` is conditioned");
            } else {
                assert!(s["Condition"].is_null(), "`{action}` is unconditional");
            }
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

// The guardrails --------------------------------------------------------------
//
// moto does not evaluate IAM conditions (nor does any local tool we have), so
// the denies and conditions are checked on the resolved template: the exact
// operator, key and values IAM will read.

/// The ARNs of the admin-equivalent AWS managed policies in a partition.
fn admin_equivalent_arns(partition: &str) -> BTreeSet<String> {
    trailguard::remediate::ADMIN_EQUIVALENT_AWS_POLICIES
        .iter()
        .map(|name| format!("arn:{partition}:iam::aws:policy/{name}"))
        .collect()
}

/// The values a statement compares `key` with under `operator`, when that is
/// its one and only condition.
fn sole_condition(statement: &Value, operator: &str, key: &str) -> Option<BTreeSet<String>> {
    let condition = statement["Condition"].as_object()?;
    let (op, keys) = condition.iter().next()?;
    let keys = keys.as_object()?;
    let (k, values) = keys.iter().next()?;
    // IAM reads condition key names in any case.
    let sole = condition.len() == 1 && keys.len() == 1;
    (sole && op == operator && k.eq_ignore_ascii_case(key))
        .then(|| strings(values).into_iter().collect())
}

/// IAM's `ArnLike`: `*` matches any run of characters, `/` included.
fn arn_like(pattern: &str, arn: &str) -> bool {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .unwrap_or_else(|e| panic!("`{pattern}` is not a glob: {e}"))
        .compile_matcher()
        .is_match(arn)
}

/// An IAM action that changes a user (its resource is the user).
fn changes_a_user(action: &str) -> bool {
    let read = action.starts_with("iam:Get") || action.starts_with("iam:List");
    action.starts_with("iam:") && !read && resource_kind(action) == "user"
}

/// The statements of the role that deny `action`.
fn denying<'s>(statements: &'s [Value], action: &'s str) -> impl Iterator<Item = &'s Value> {
    statements
        .iter()
        .filter(move |s| s["Effect"] == "Deny" && strings(&s["Action"]).iter().any(|a| a == action))
}

/// The role of this stack cannot grant an admin-equivalent AWS policy,
/// detach AWS's quarantine policies, or change a user tagged exempt.
fn assert_guardrails(stack: &Stack, label: &str) {
    let statements = role_statements(stack);
    let partition = stack.partition();
    for s in statements.iter().filter(|s| s["Effect"] == "Deny") {
        assert!(
            s["NotAction"].is_null() && s["NotResource"].is_null(),
            "{label}: a Deny says what it denies: {s}"
        );
    }

    // Admin-equivalent policies: denied outright, and left out of the Allow.
    let admin = admin_equivalent_arns(partition);
    assert!(
        admin
            .iter()
            .any(|arn| arn.ends_with("/AdministratorAccess")),
        "the list names AdministratorAccess"
    );
    let denied = denying(&statements, "iam:AttachGroupPolicy").any(|s| {
        strings(&s["Resource"]) == ["*"]
            && sole_condition(s, "ArnEquals", "iam:PolicyARN").as_ref() == Some(&admin)
    });
    assert!(
        denied,
        "{label}: no Deny of iam:AttachGroupPolicy with ArnEquals iam:PolicyARN {admin:?}"
    );
    for s in statements.iter().filter(|s| {
        s["Effect"] == "Allow"
            && strings(&s["Action"])
                .iter()
                .any(|a| a == "iam:AttachGroupPolicy")
    }) {
        assert_eq!(
            sole_condition(s, "ArnNotEquals", "iam:PolicyARN").as_ref(),
            Some(&admin),
            "{label}: the Allow of iam:AttachGroupPolicy leaves out the admin-equivalent policies: {s}"
        );
    }

    // AWS's quarantine policies stay attached; a policy of the account that
    // merely bears the name is the account's own.
    let quarantine: Vec<String> = denying(&statements, "iam:DetachUserPolicy")
        .filter(|s| strings(&s["Resource"]) == ["*"])
        .filter_map(|s| sole_condition(s, "ArnLike", "iam:PolicyARN"))
        .flatten()
        .collect();
    // The registry's exceptions (user-policy-attached never moves them).
    for (name, kept) in [
        ("AWSCompromisedKeyQuarantine", true),
        ("AWSCompromisedKeyQuarantineV2", true),
        ("AWSCompromisedKeyQuarantineV3", true),
        ("AWSExposedCredentialPolicy_DO_NOT_REMOVE", true),
        ("AWSExposedCredentialPolicy_DO_NOT_REMOVE_2", false),
        ("ReadOnlyAccess", false),
        ("AdministratorAccess", false),
    ] {
        let arn = format!("arn:{partition}:iam::aws:policy/{name}");
        let is_denied = quarantine.iter().any(|p| arn_like(p, &arn));
        assert_eq!(
            is_denied, kept,
            "{label}: Deny of iam:DetachUserPolicy of {arn} (patterns {quarantine:?})"
        );
        let own = format!("arn:{partition}:iam::{ACCOUNT}:policy/{name}");
        assert!(
            !quarantine.iter().any(|p| arn_like(p, &own)),
            "{label}: {own}"
        );
    }

    // Users tagged exempt: every change the role may make to a user, and
    // their tags, denied; the reads that find the tag are not.
    let tag = stack.param("ExemptTag");
    let users = format!("arn:{partition}:iam::{ACCOUNT}:user/*");
    let exempt: BTreeSet<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Deny" && strings(&s["Resource"]) == [users.as_str()])
        .filter(|s| {
            let key = format!("aws:ResourceTag/{tag}");
            sole_condition(s, "StringEqualsIgnoreCase", &key)
                == Some(BTreeSet::from(["true".into()]))
        })
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    let allowed: BTreeSet<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| strings(&s["Action"]))
        .filter(|a| changes_a_user(a))
        .collect();
    let declared: BTreeSet<String> = rules::remediations()
        .iter()
        .flat_map(|r| r.permissions.iter())
        .filter(|a| changes_a_user(a))
        .map(|a| a.to_string())
        .collect();
    assert!(declared.contains("iam:UpdateAccessKey"), "{declared:?}");
    let must = ["iam:TagUser", "iam:UntagUser"].map(String::from);
    let missing: Vec<_> = allowed
        .iter()
        .chain(&declared)
        .chain(&must)
        .filter(|a| !exempt.contains(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "{label}: not denied on users tagged {tag}=true: {missing:?}"
    );
    for read in ["iam:GetUser", "iam:ListUserTags"] {
        assert!(
            !exempt.contains(read),
            "{label}: {read} is how trailguard sees the tag"
        );
    }
}

#[test]
fn the_guardrails_hold_in_every_mode_combination() {
    let template = main_template();
    for (i, combo) in every_mode_combination().iter().enumerate() {
        let mut overrides: Vec<(&str, &str)> =
            combo.iter().map(|(p, m)| (p.as_str(), *m)).collect();
        // The tag key is the operator's: any case, spaces, IAM's punctuation.
        let tag = if i % 2 == 0 {
            "trailguard:exempt"
        } else {
            "Security Team/Exempt_1+=.@-"
        };
        overrides.push(("ExemptTag", tag));
        let stack = Stack::new(template, &overrides);
        assert_guardrails(&stack, &format!("{combo:?}, tag {tag}"));
    }
    let all_on: Vec<(String, &str)> = mode_parameters(template)
        .into_values()
        .map(|p| (p, "remediate"))
        .collect();
    let overrides: Vec<(&str, &str)> = all_on.iter().map(|(p, m)| (p.as_str(), *m)).collect();
    for region in IAM_REGIONS {
        let stack = Stack::in_region(template, &overrides, region);
        assert_guardrails(&stack, region);
    }
}

/// The guardrails are written as a JSON string with the tag key inside: a
/// tag the pattern lets through must keep it JSON and an IAM tag key.
#[test]
fn the_exempt_tag_parameter_takes_only_iam_tag_keys_that_keep_the_policy_json() {
    let pattern = main_template()["Parameters"]["ExemptTag"]["AllowedPattern"]
        .as_str()
        .expect("ExemptTag has an AllowedPattern");
    let too_long = "k".repeat(129);
    let candidates = [
        ("trailguard:exempt", true),
        ("Security Team/Exempt_1+=.@-", true),
        ("", false),
        ("a\"b", false),
        ("a\\b", false),
        ("a}b", false),
        ("${AWS::Region}", false),
        (too_long.as_str(), false),
    ];
    let script = "import json, re, sys\n\
                  p, cs = sys.argv[1], json.loads(sys.argv[2])\n\
                  print(json.dumps([re.fullmatch(p, c) is not None for c in cs]))";
    let inputs = serde_json::to_string(&candidates.map(|(c, _)| c)).expect("JSON");
    let out = run_tool("python3", &["-c", script, pattern, &inputs], "python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let accepted: Vec<bool> = serde_json::from_slice(&out.stdout).expect("a JSON list");
    for ((tag, expected), got) in candidates.iter().zip(accepted) {
        assert_eq!(got, *expected, "ExemptTag `{tag}`");
        if got {
            let stack = Stack::new(main_template(), &[("ExemptTag", tag)]);
            role_statements(&stack); // parses the policy string
        }
    }
}

/// No remediation's Allow exists without the denies: each remediation policy
/// is created after every guardrail, and the function after all of them.
#[test]
fn no_allow_exists_before_the_guardrails() {
    let stack = Stack::new(main_template(), &[]);
    let role_ref = json!({ "Ref": role_id(stack.template) });
    let mut guardrails = BTreeSet::new();
    let mut remediations = Vec::new();
    for (id, r) in stack.template["Resources"].as_object().expect("Resources") {
        if r["Type"] != "AWS::IAM::RolePolicy" || r["Properties"]["RoleName"] != role_ref {
            continue;
        }
        let doc = stack
            .resolve(&r["Properties"]["PolicyDocument"])
            .expect("a PolicyDocument");
        let doc = policy_document(doc, id);
        let effects: BTreeSet<String> = match &doc["Statement"] {
            Value::Array(s) => s.iter().map(|s| s["Effect"].to_string()).collect(),
            s => BTreeSet::from([s["Effect"].to_string()]),
        };
        if effects.contains("\"Deny\"") {
            assert!(
                r["Condition"].is_null(),
                "{id}: a guardrail is in every stack"
            );
            assert_eq!(effects.len(), 1, "{id}: denies only");
            guardrails.insert(id.clone());
        } else if r["Condition"].is_string() {
            remediations.push((id.clone(), r));
        }
    }
    assert!(guardrails.len() >= 3, "{guardrails:?}");
    assert!(remediations.len() >= 5, "{remediations:?}");
    let depends = |r: &Value| -> BTreeSet<String> {
        match &r["DependsOn"] {
            Value::String(s) => BTreeSet::from([s.clone()]),
            other => strings(other).into_iter().collect(),
        }
    };
    for (id, r) in &remediations {
        if r["Condition"] == "ScanOn" {
            continue; // read-only
        }
        let after = depends(r);
        let missing: Vec<_> = guardrails.difference(&after).collect();
        assert!(missing.is_empty(), "{id} is not created after {missing:?}");
    }
    let (id, f) = function(stack.template);
    let after = depends(f);
    let missing: Vec<_> = guardrails.difference(&after).collect();
    assert!(missing.is_empty(), "{id} may run before {missing:?}");
}

// Partitions -----------------------------------------------------------------

/// Everything a stack creates, resolved, minus the strings that are the same
/// in every partition (service principals, CloudTrail event sources) and the
/// descriptions, which are prose.
fn partition_sensitive_text(stack: &Stack) -> String {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("EventPattern");
                map.remove("Description");
                match map.get_mut("Principal") {
                    // AWS::Lambda::Permission names a service principal alone.
                    Some(Value::String(_)) => drop(map.remove("Principal")),
                    Some(Value::Object(p)) => drop(p.remove("Service")),
                    _ => {}
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut created = serde_json::Map::new();
    for (id, r) in stack.resources() {
        let mut r = stack.resolve(r).expect("a resource");
        if let Some(doc) = r["Properties"].get_mut("PolicyDocument") {
            *doc = policy_document(doc.take(), id);
        }
        created.insert(id.to_owned(), r);
    }
    let mut all = json!({
        "Resources": created,
        "Outputs": stack.resolve(&stack.template["Outputs"]),
    });
    strip(&mut all);
    all.to_string()
}

#[test]
fn the_main_stack_deploys_in_the_iam_region_of_every_partition_and_only_there() {
    let template = main_template();
    let all_on: Vec<(String, &str)> = mode_parameters(template)
        .into_values()
        .map(|p| (p, "remediate"))
        .collect();
    for region in IAM_REGIONS {
        let (partition, suffix) = partition_of(region);
        let secret =
            format!("arn:{partition}:secretsmanager:{region}:{ACCOUNT}:secret:slack-AbCdEf");
        let mut overrides: Vec<(&str, &str)> =
            all_on.iter().map(|(p, m)| (p.as_str(), *m)).collect();
        overrides.push(("SlackWebhookSecretArn", &secret));
        overrides.push(("AlertEmail", "security@example.com"));
        let stack = Stack::in_region(template, &overrides, region);
        assert_eq!(stack.failed_rules(), Vec::<String>::new(), "{region}");

        let text = partition_sensitive_text(&stack);
        if partition != "aws" {
            assert!(
                !text.contains("arn:aws:"),
                "{region}: an ARN of the aws partition: {text}"
            );
            assert!(!text.contains("us-east-1"), "{region}: us-east-1 in {text}");
        }
        for (at, _) in text.match_indices("amazonaws.com") {
            let rest = &text[at..];
            assert!(
                rest.starts_with(suffix) && !rest[suffix.len()..].starts_with('.'),
                "{region}: a domain that is not {suffix}: …{}…",
                &text[at.saturating_sub(60)..(at + 40).min(text.len())]
            );
        }
        assert!(
            text.contains(&format!("secretsmanager.{region}.{suffix}")),
            "{region}: kms:ViaService names the partition's Secrets Manager endpoint"
        );
        let env = function_env(&stack);
        Config::from_toml(DEFAULT_TOML, "template.yaml", env)
            .unwrap_or_else(|e| panic!("{region}: the template's environment is rejected: {e}"));
    }
    for region in OTHER_REGIONS {
        let stack = Stack::in_region(template, &[], region);
        assert_eq!(
            stack.failed_rules(),
            ["IamEventsArriveOnlyInTheIamRegion"],
            "{region} is refused"
        );
    }
}

#[test]
fn the_forwarding_stack_targets_its_partitions_iam_region() {
    let template = forward_template();
    let target = |stack: &Stack| -> (String, String) {
        let rule = stack
            .resources()
            .find(|(_, r)| r["Type"] == "AWS::Events::Rule")
            .expect("a rule")
            .1;
        let arn = stack
            .resolve(&rule["Properties"]["Targets"][0]["Arn"])
            .expect("a target");
        let role = stack
            .resources()
            .find(|(_, r)| r["Type"] == "AWS::IAM::Role")
            .expect("a role")
            .1;
        let allowed = stack
            .resolve(
                &role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"],
            )
            .expect("a resource");
        (
            arn.as_str().expect("an ARN").to_owned(),
            allowed.as_str().expect("an ARN").to_owned(),
        )
    };
    for (home, other) in IAM_REGIONS.into_iter().zip(OTHER_REGIONS) {
        let (partition, _) = partition_of(home);
        let bus = format!("arn:{partition}:events:{home}:{ACCOUNT}:event-bus/default");
        let stack = Stack::in_region(template, &[], other);
        assert_eq!(stack.failed_rules(), Vec::<String>::new(), "{other}");
        assert_eq!(target(&stack), (bus.clone(), bus), "{other}");
        if partition != "aws" {
            let text = partition_sensitive_text(&stack);
            assert!(!text.contains("arn:aws:"), "{other}: {text}");
            assert!(!text.contains("us-east-1"), "{other}: {text}");
        }
        let stack = Stack::in_region(template, &[], home);
        assert_eq!(
            stack.failed_rules(),
            ["NotTheIamRegion"],
            "{home} is refused"
        );
    }
    // An explicit TrailguardRegion wins, and is refused as the stack's own.
    let stack = Stack::in_region(
        template,
        &[("TrailguardRegion", "eu-west-1")],
        "eu-central-1",
    );
    assert_eq!(stack.failed_rules(), Vec::<String>::new());
    let bus = format!("arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default");
    assert_eq!(target(&stack), (bus.clone(), bus));
    let stack = Stack::in_region(template, &[("TrailguardRegion", "eu-west-1")], "eu-west-1");
    assert_eq!(stack.failed_rules(), ["NotTheTrailguardRegion"]);
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

/// Only AWS can put an event whose `source` starts with `aws.` on a bus
/// (PutEvents refuses the prefix), so only such events may act.
const AWS_SOURCES: &str = "aws.";

/// What a pattern covers, read back in the registry's terms.
fn pattern_catalogue(pattern: &Value) -> (BTreeMap<String, BTreeSet<String>>, bool) {
    assert_eq!(
        pattern["source"],
        json!([{ "prefix": AWS_SOURCES }]),
        "the pattern takes only sources AWS alone can use"
    );
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
    let source = envelope["source"].as_str().unwrap_or("");
    if !source.starts_with(AWS_SOURCES) {
        return false;
    }
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
            .is_some_and(|e| {
                // As the function reads it: a forged envelope (not `aws.*`,
                // or another account than its record's) fires nothing.
                let envelope: Option<trailguard::event::input::Envelope> =
                    serde_json::from_value(s.envelope.clone()).ok();
                !trailguard::engine::evaluate_delivered(&e, envelope.as_ref(), &default)
                    .decisions
                    .is_empty()
            });
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
        // The same event put on the bus by anyone with events:PutEvents:
        // any source but the `aws.` prefix, which AWS keeps for itself.
        for source in [
            "custom.forged",
            "iam.amazonaws.com",
            "awsx.iam",
            "AWS.iam",
            "aws",
        ] {
            let mut e = s.envelope.clone();
            e["source"] = json!(source);
            names.push(format!("{} (forged source {source})", s.name));
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
    assert_eq!(
        hits("(forged source", &matched[0]),
        0,
        "{MAIN} acts on forged events"
    );
    assert_eq!(
        hits("(forged source", &matched[1]),
        0,
        "{FORWARD} forwards forged events"
    );
    assert!(
        names
            .iter()
            .filter(|n| n.contains("(forged source"))
            .count()
            > 50
    );
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
