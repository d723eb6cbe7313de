//! Organisation mode: the central stack (`template.yaml` with an
//! `OrganizationId`) and the member stack (`templates/member.yaml`), checked
//! against the rule registry, against each other and against the contract
//! with the function (its environment variables and the member role's ARN).
//!
//! - every template under `templates/` passes `cfn-lint`;
//! - the member rule's pattern is the central rule's, both the registry's
//!   catalogue, and moto's matcher leaves out exactly the function's own role
//!   and the remediations' calls of the member role's session `trailguard`;
//!   no field is named twice in one of EventBridge's branches;
//! - the member role trusts exactly the central function's role, from inside
//!   the organisation, and holds exactly what the one-account role holds for
//!   the same modes (the registry's permissions, the same denies), in every
//!   mode combination;
//! - the central stack adds the bus, its policy, the scan queue and its
//!   dead-letter queue, the event source mapping and the role's additions,
//!   and nothing at all without an `OrganizationId`.
//!
//! The existing template tests do not deploy into moto's CloudFormation (moto
//! serves them EventBridge and SQS only, to match patterns), and neither do
//! these: moto evaluates no IAM trust or condition, so the templates are
//! resolved offline (`cfn`) for every parameter combination instead.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use trailguard::{remediate, rules};

use super::cfn::{ACCOUNT, ROLE_ARN, Stack, partition_of, strings};
use super::patterns::{
    PATTERN_QUOTA, as_role_session, catalogue_covers, match_with_moto, pattern_catalogue,
    registry_catalogue, ruler_branches,
};
use super::{
    IAM_REGIONS, MEMBER, every_mode_combination, function, function_env, main_template,
    member_template, mode_parameters, repo, run_tool, samples, statements_of_role,
};

const ORG: &str = "o-a1b2c3d4e5";
/// The member role's default name, the contract's `member_role_name`.
const MEMBER_ROLE: &str = "trailguard-member";
/// Another account of the organisation.
const OTHER_ACCOUNT: &str = "444455556666";
/// The function's environment in organisation mode (the contract's names).
const ORG_VARIABLES: [&str; 4] = [
    "TRAILGUARD_MEMBER_ROLE_NAME",
    "TRAILGUARD_ACCOUNTS",
    "TRAILGUARD_EXCLUDE_ACCOUNTS",
    "TRAILGUARD_SCAN_QUEUE_URL",
];
/// Regions a StackSet deploys the member stack to: the IAM region of each
/// partition, and another region of each.
const MEMBER_REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-north-1",
    "us-gov-west-1",
    "us-gov-east-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// The central stack in organisation mode, `overrides` on top.
pub(super) fn central<'o>(overrides: &[(&'o str, &'o str)], region: &str) -> Stack<'static> {
    let mut all = vec![("OrganizationId", ORG)];
    all.extend_from_slice(overrides);
    Stack::in_region(main_template(), &all, region)
}

/// A value of the stack's `Outputs`, resolved.
fn output(stack: &Stack, name: &str) -> String {
    let decl = &stack.template["Outputs"][name];
    assert!(decl.is_object(), "no output {name}");
    stack
        .resolve(&decl["Value"])
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| panic!("output {name} is not a string"))
}

/// The member stack in `region`, given the central stack's outputs in the
/// same partition as the StackSet would be, `overrides` on top.
fn member(overrides: &[(&str, &str)], region: &str) -> Stack<'static> {
    let (_, iam_region) = IAM_REGIONS
        .iter()
        .map(|r| (partition_of(r).0, *r))
        .find(|(p, _)| *p == partition_of(region).0)
        .expect("a partition");
    let center = central(&[], iam_region);
    let bus = output(&center, "CentralEventBusArn");
    let role = output(&center, "FunctionRoleArn");
    let mut all = vec![
        ("OrganizationId", ORG),
        ("CentralEventBusArn", bus.as_str()),
        ("CentralRoleArn", role.as_str()),
    ];
    all.extend_from_slice(overrides);
    Stack::in_region(member_template(), &all, region)
}

/// A resource the stack creates, by logical id.
fn created<'t>(stack: &Stack<'t>, id: &str) -> Option<&'t Value> {
    stack.resources().find(|(i, _)| *i == id).map(|(_, r)| r)
}

/// A resource's properties, resolved.
fn properties(stack: &Stack, id: &str) -> Value {
    let r = created(stack, id).unwrap_or_else(|| panic!("{id} is not created"));
    stack.resolve(&r["Properties"]).expect("Properties")
}

/// The resolved pattern of the rule `id`.
fn pattern_of(stack: &Stack, id: &str) -> Value {
    let p = properties(stack, id);
    assert_eq!(
        p["State"], "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        "{id}: root's read-only calls reach only rules in this state"
    );
    p["EventPattern"].clone()
}

/// The member role's ARN in a member stack (named, no path).
fn member_role_arn(stack: &Stack) -> String {
    let name = properties(stack, "MemberRole")["RoleName"]
        .as_str()
        .expect("a RoleName")
        .to_owned();
    format!("arn:{}:iam::{ACCOUNT}:role/{name}", stack.partition())
}

/// IAM's `ArnLike`: `*` matches any run of characters.
fn arn_like(pattern: &str, arn: &str) -> bool {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .expect("a glob")
        .compile_matcher()
        .is_match(arn)
}

#[test]
fn cfn_lint_passes_on_every_template_of_the_templates_folder() {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("templates"))
        .expect("templates/")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .map(|n| format!("templates/{n}"))
        .collect();
    files.sort();
    assert!(files.contains(&MEMBER.to_owned()), "{files:?}");
    // The member stack runs in every region: the IAM region of each
    // partition, and another one.
    let mut args = vec!["--regions"];
    args.extend(MEMBER_REGIONS);
    args.push("--");
    args.extend(files.iter().map(String::as_str));
    let out = run_tool("cfn-lint", &args, "pip install cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems in {files:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_an_organization_id_nothing_of_organisation_mode_is_created() {
    let template = main_template();
    let stack = Stack::new(template, &[]);
    assert!(!stack.condition("OrganizationMode"));
    // A fixed list, not one derived from the template's conditions: a
    // resource of organisation mode left without its condition (or given
    // another) shows here as one too many.
    let created: BTreeSet<&str> = stack.resources().map(|(id, _)| id).collect();
    assert_eq!(
        created,
        BTreeSet::from([
            "AlertStateTable",
            "AlertsKey",
            "AlertsKeyAlias",
            "AlertsTopic",
            "CloudTrailRule",
            "CloudTrailRuleInvokesFunction",
            "CredentialScanPolicy",
            "DeadLetterQueue",
            "DeadLetterQueuePolicy",
            "DeadLettersAlarm",
            "ExemptUsersPolicy",
            "FunctionErrorsAlarm",
            "FunctionLogGroup",
            "GuardrailsPolicy",
            "OnlyThisFunctionPolicy",
            "SelfProtectionPolicy",
            "TrailguardFunction",
            "TrailguardFunctionRole",
        ])
    );
    let env: BTreeMap<String, String> = function_env(&stack).into_iter().collect();
    for name in ORG_VARIABLES {
        assert!(!env.contains_key(name), "{name} is set in one-account mode");
    }
    let outputs: BTreeSet<&str> = template["Outputs"]
        .as_object()
        .expect("Outputs")
        .iter()
        .filter(|(_, o)| o["Condition"].as_str().is_none_or(|c| stack.condition(c)))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        outputs,
        BTreeSet::from([
            "AlertsTopicArn",
            "DeadLetterQueueUrl",
            "EventBusArnForForwarding",
            "FunctionName",
            "FunctionRoleArn",
            "LogGroup",
        ])
    );
    // The dead-letter queue still takes the one rule's failures only.
    let policy = properties(&stack, "DeadLetterQueuePolicy");
    assert_eq!(
        policy["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        "arn:test:CloudTrailRule.Arn"
    );
}

#[test]
fn the_function_gets_the_contracts_variables_in_organisation_mode() {
    let accounts = "111111111111,222222222222";
    let excluded = "333333333333";
    for schedule in ["rate(1 day)", "off"] {
        let stack = central(
            &[
                ("Accounts", accounts),
                ("ExcludeAccounts", excluded),
                ("ScanSchedule", schedule),
            ],
            "us-east-1",
        );
        let env: BTreeMap<String, String> = function_env(&stack).into_iter().collect();
        assert_eq!(env["TRAILGUARD_MEMBER_ROLE_NAME"], MEMBER_ROLE);
        assert_eq!(env["TRAILGUARD_ACCOUNTS"], accounts);
        assert_eq!(env["TRAILGUARD_EXCLUDE_ACCOUNTS"], excluded);
        // The function's own role, as in one-account mode.
        assert_eq!(env["TRAILGUARD_SELF_ROLE_ARN"], ROLE_ARN);
        if schedule == "off" {
            assert!(!env.contains_key("TRAILGUARD_SCAN_QUEUE_URL"));
            assert!(created(&stack, "ScanQueue").is_none());
        } else {
            assert_eq!(
                env["TRAILGUARD_SCAN_QUEUE_URL"],
                format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/trailguard-ScanQueue")
            );
        }
    }
    // The lists' parameters take the contract's form: comma-separated
    // 12-digit ids, or nothing.
    for param in ["Accounts", "ExcludeAccounts"] {
        let decl = &main_template()["Parameters"][param];
        assert_eq!(
            decl["AllowedPattern"], "^$|^[0-9]{12}(,[0-9]{12})*$",
            "{param}"
        );
        assert_eq!(decl["Default"], "", "{param}: every account, none excluded");
    }
}

#[test]
fn the_central_bus_takes_events_from_the_organisation_only_and_invokes_the_function() {
    let stack = central(&[], "us-east-1");
    let bus = properties(&stack, "CentralEventBus");
    assert_eq!(bus["Name"], "trailguard-organization");
    let policy = properties(&stack, "CentralEventBusPolicy");
    assert_eq!(policy["EventBusName"], "ref:CentralEventBus");
    assert_eq!(
        policy["Statement"],
        json!({
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": "arn:test:CentralEventBus.Arn",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
        })
    );
    assert_eq!(
        output(&stack, "CentralEventBusArn"),
        "arn:test:CentralEventBus.Arn"
    );

    let rule = properties(&stack, "OrganizationRule");
    assert_eq!(rule["EventBusName"], "ref:CentralEventBus");
    let (function_id, _) = function(main_template());
    let targets = rule["Targets"].as_array().expect("Targets");
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["Arn"], format!("arn:test:{function_id}.Arn"));
    assert!(targets[0]["DeadLetterConfig"]["Arn"].is_string());
    let permission = properties(&stack, "OrganizationRuleInvokesFunction");
    assert_eq!(permission["SourceArn"], "arn:test:OrganizationRule.Arn");
    assert_eq!(permission["Principal"], "events.amazonaws.com");
    // The dead-letter queue takes both rules' failures.
    let dlq = properties(&stack, "DeadLetterQueuePolicy");
    assert_eq!(
        dlq["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!([
            "arn:test:CloudTrailRule.Arn",
            "arn:test:OrganizationRule.Arn"
        ])
    );
}

#[test]
fn one_scan_per_account_goes_through_a_queue_with_partial_failures_and_a_dead_letter_queue() {
    let stack = central(&[], "us-east-1");
    let (function_id, f) = function(main_template());
    let timeout = f["Properties"]["Timeout"].as_u64().expect("a Timeout");

    let queue = properties(&stack, "ScanQueue");
    let visibility = queue["VisibilityTimeout"]
        .as_u64()
        .expect("VisibilityTimeout");
    assert!(
        visibility >= 6 * timeout,
        "visibility {visibility} s < 6 x the function's {timeout} s"
    );
    assert_eq!(
        queue["RedrivePolicy"],
        json!({"deadLetterTargetArn": "arn:test:ScanDeadLetterQueue.Arn", "maxReceiveCount": 3})
    );
    let dlq = properties(&stack, "ScanDeadLetterQueue");
    assert!(
        dlq["MessageRetentionPeriod"].as_u64() > queue["MessageRetentionPeriod"].as_u64(),
        "a dead letter outlives its first enqueue"
    );

    let mapping = properties(&stack, "ScanQueueInvokesFunction");
    assert_eq!(mapping["EventSourceArn"], "arn:test:ScanQueue.Arn");
    assert_eq!(mapping["FunctionName"], format!("ref:{function_id}"));
    assert_eq!(mapping["BatchSize"], 1);
    assert_eq!(
        mapping["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );

    let alarm = properties(&stack, "ScanDeadLettersAlarm");
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": "arn:test:ScanDeadLetterQueue.QueueName"}])
    );
    assert_eq!(
        alarm["AlarmActions"],
        json!([format!(
            "arn:aws:sns:us-east-1:{ACCOUNT}:trailguard-AlertsTopic"
        )])
    );
}

/// A dead letter is replayed by an operator, remediations included: only
/// the rules' deliveries and the function's failed invocations may put
/// one in the queue.
#[test]
fn only_the_rules_and_the_function_send_to_the_dead_letter_queue() {
    for (stack, rules) in [
        (
            Stack::new(main_template(), &[]),
            json!("arn:test:CloudTrailRule.Arn"),
        ),
        (
            central(&[], "us-east-1"),
            json!([
                "arn:test:CloudTrailRule.Arn",
                "arn:test:OrganizationRule.Arn"
            ]),
        ),
    ] {
        let role = output(&stack, "FunctionRoleArn");
        let policy = properties(&stack, "DeadLetterQueuePolicy");
        let statements = policy["PolicyDocument"]["Statement"].as_array().unwrap();
        assert_eq!(
            statements.last().unwrap(),
            &json!({
                "Sid": "OnlyTheRulesAndTheFunctionSend",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": "arn:test:DeadLetterQueue.Arn",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role, "aws:SourceArn": rules}}
            })
        );
        // The function's failed invocations go there, sent with its role.
        let function = properties(&stack, "TrailguardFunction");
        assert_eq!(
            function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"],
            "arn:test:DeadLetterQueue.Arn"
        );
    }
    // The forwarding stacks' queues take their rule's deliveries only.
    for stack in [
        member(&[], "eu-west-1"),
        Stack::new(super::forward_template(), &[]),
    ] {
        let policy = properties(&stack, "DeadLetterQueuePolicy");
        let statements = policy["PolicyDocument"]["Statement"].as_array().unwrap();
        assert_eq!(
            statements.last().unwrap(),
            &json!({
                "Sid": "OnlyTheRuleSends",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": "arn:test:DeadLetterQueue.Arn",
                "Condition": {"ArnNotEquals": {"aws:SourceArn": "arn:test:ForwardRule.Arn"}}
            })
        );
    }
}

/// The scan queue takes messages from the dispatcher alone (the function's
/// role): anyone else of the central account holding `sqs:SendMessage`
/// could queue scans, remediations included, of any account. The dead
/// letters are moved by SQS itself and the alarm reads metrics: neither
/// sends.
#[test]
fn only_the_functions_role_sends_to_the_scan_queue() {
    for region in ["us-east-1", "us-gov-west-1", "cn-north-1"] {
        let stack = central(&[], region);
        let role = output(&stack, "FunctionRoleArn");
        let policy = properties(&stack, "ScanQueuesPolicy");
        let queue_url = |id: &str| stack.resolve(&json!({"Ref": id})).expect("a queue URL");
        assert_eq!(
            policy["Queues"],
            json!([queue_url("ScanQueue"), queue_url("ScanDeadLetterQueue")])
        );
        assert_eq!(
            policy["PolicyDocument"],
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sqs:*",
                        "Resource": ["arn:test:ScanQueue.Arn", "arn:test:ScanDeadLetterQueue.Arn"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                    },
                    {
                        "Sid": "OnlyTheDispatcherSends",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sqs:SendMessage",
                        "Resource": "arn:test:ScanQueue.Arn",
                        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role}}
                    }
                ]
            }),
            "{region}"
        );
        assert!(role.starts_with(&format!("arn:{}:iam::{ACCOUNT}:role/", stack.partition())));
    }
}

#[test]
fn the_central_role_assumes_only_member_roles_of_the_organisation_and_uses_the_scan_queue() {
    for schedule in ["rate(1 day)", "off"] {
        let stack = central(&[("ScanSchedule", schedule)], "us-east-1");
        let one_account = Stack::new(main_template(), &[("ScanSchedule", schedule)]);
        let before: Vec<Value> = super::role_statements(&one_account);
        let after = super::role_statements(&stack);
        // Organisation mode adds statements and changes none.
        for s in &before {
            assert!(after.contains(s), "organisation mode changed {s}");
        }
        // Organisation mode adds Allows, and the deny that keeps queueing a
        // scan to the function's own code (tested with the other such).
        let added: Vec<&Value> = after
            .iter()
            .filter(|s| !before.contains(s) && s["Sid"] != "OnlyThisFunctionQueuesScans")
            .collect();
        let mut actions: BTreeMap<String, (Value, Value)> = BTreeMap::new();
        for s in &added {
            assert_eq!(s["Effect"], "Allow", "{s}");
            for a in strings(&s["Action"]) {
                actions.insert(a, (s["Resource"].clone(), s["Condition"].clone()));
            }
        }
        let assume = &actions["sts:AssumeRole"];
        assert_eq!(assume.0, format!("arn:aws:iam::*:role/{MEMBER_ROLE}"));
        assert_eq!(
            assume.1,
            json!({"StringEquals": {"aws:ResourceOrgID": ORG}})
        );
        assert!(arn_like(
            assume.0.as_str().expect("a string"),
            &member_role_arn(&member(&[], "us-east-1"))
        ));
        assert!(!arn_like(
            assume.0.as_str().expect("a string"),
            &format!("arn:aws:iam::{OTHER_ACCOUNT}:role/ops/{MEMBER_ROLE}")
        ));
        assert_eq!(actions["organizations:ListAccounts"].0, "*");
        assert_eq!(
            actions["organizations:DescribeAccount"].0,
            format!("arn:aws:organizations::*:account/{ORG}/*")
        );
        let mut expected = BTreeSet::from([
            "sts:AssumeRole".to_owned(),
            "organizations:ListAccounts".to_owned(),
            "organizations:DescribeAccount".to_owned(),
        ]);
        if schedule != "off" {
            for a in [
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ] {
                assert_eq!(actions[a].0, "arn:test:ScanQueue.Arn", "{a}");
                expected.insert(a.to_owned());
            }
        }
        assert_eq!(
            actions.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "scan {schedule}"
        );
    }
}

#[test]
fn the_member_and_central_patterns_are_the_same_registry_catalogue() {
    let (catalogue, any_root) = registry_catalogue();
    let center = central(&[], "us-east-1");
    let org = pattern_of(&center, "OrganizationRule");
    let (covered, root) = pattern_catalogue(&org);
    assert!(
        covered == catalogue && root == any_root,
        "the central OrganizationRule's pattern drifted from the registry"
    );
    // The one-account rule leaves out the same role for every call, and
    // has no member role.
    let one = pattern_of(&center, "CloudTrailRule");
    assert_eq!(one["detail"]["userIdentity"], org["detail"]["userIdentity"]);
    assert_eq!(
        org["detail"]["userIdentity"],
        json!({"sessionContext": {"sessionIssuer": {"$or": [
            {"arn": [{"anything-but": ROLE_ARN}]},
            {"arn": [{"exists": false}]},
        ]}}}),
    );
    assert_eq!(fix_branches(&one), BTreeMap::new());
    // The remediations' calls of catalogue, each in one branch that leaves
    // out the member role's session `trailguard`; no other branch names one.
    let fixes: BTreeMap<String, BTreeSet<String>> = catalogue
        .iter()
        .map(|(source, names)| {
            let calls = names.iter().filter(|n| remediate::makes_call(source, n));
            (source.clone(), calls.cloned().collect::<BTreeSet<_>>())
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    assert_eq!(
        fixes["iam.amazonaws.com"],
        BTreeSet::from(
            [
                "AttachGroupPolicy",
                "PutGroupPolicy",
                "UpdateAccessKey",
                "UpdateAccountPasswordPolicy"
            ]
            .map(String::from)
        )
    );
    assert_eq!(fix_branches(&org), fixes);
    for branch in org["detail"]["$or"].as_array().expect("detail.$or") {
        if branch["userIdentity"].is_null() {
            for source in strings(&branch["eventSource"]) {
                for name in strings(&branch["eventName"]) {
                    assert!(
                        !remediate::makes_call(&source, &name),
                        "{name} is a remediation's call: it belongs in the branch that leaves out the member role's session"
                    );
                }
            }
        }
    }
    ruler_branches(&org).unwrap_or_else(|field| panic!("{field} named twice in a branch"));
    let size = org.to_string().len();
    assert!(
        size <= PATTERN_QUOTA,
        "the pattern is {size} characters; EventBridge's default quota is {PATTERN_QUOTA}"
    );

    // The member rule in every region, for a member role of another name too
    // (whose name the fix branches carry).
    for name in [MEMBER_ROLE, "security-tooling-member"] {
        let center = central(&[("MemberRoleName", name)], "us-east-1");
        let org = pattern_of(&center, "OrganizationRule");
        for branch in org["detail"]["$or"].as_array().expect("detail.$or") {
            if !branch["userIdentity"].is_null() && branch["userIdentity"]["type"].is_null() {
                assert_eq!(branch["userIdentity"], fix_exclusion(name), "{name}");
            }
        }
        for region in ["us-east-1", "eu-north-1", "ap-southeast-2"] {
            let stack = member(&[("MemberRoleName", name)], region);
            assert_eq!(
                pattern_of(&stack, "ForwardRule"),
                org,
                "{name} in {region}: the member pattern differs from the central one"
            );
        }
    }
}

/// What a pattern's branch for remediation calls leaves out: a session
/// named `trailguard` of a role named `role`.
fn fix_exclusion(role: &str) -> Value {
    json!({"$or": [
        {"arn": [{"anything-but": {"wildcard": format!("arn:aws:sts::*:assumed-role/{role}/trailguard")}}]},
        {"arn": [{"exists": false}]},
    ]})
}

/// The branches of a pattern that leave out the member role's fixes,
/// `eventSource -> eventNames`; each must say exactly [`fix_exclusion`].
fn fix_branches(pattern: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for branch in pattern["detail"]["$or"].as_array().expect("detail.$or") {
        if branch["userIdentity"].is_null() || !branch["userIdentity"]["type"].is_null() {
            continue;
        }
        assert_eq!(
            branch["userIdentity"],
            fix_exclusion(MEMBER_ROLE),
            "{branch}"
        );
        for source in strings(&branch["eventSource"]) {
            let names = out.entry(source).or_default();
            for name in strings(&branch["eventName"]) {
                assert!(names.insert(name), "{branch}: a name twice");
            }
        }
    }
    out
}

#[test]
fn the_member_rule_sends_to_the_central_bus_through_one_role_per_account() {
    for region in MEMBER_REGIONS {
        let stack = member(&[], region);
        let iam_region = IAM_REGIONS.contains(&region);
        assert_eq!(stack.condition("IamRegion"), iam_region, "{region}");
        let partition = stack.partition();
        let rule = properties(&stack, "ForwardRule");
        assert!(rule["EventBusName"].is_null(), "the default bus");
        let target = &rule["Targets"][0];
        assert_eq!(
            target["Arn"], "arn:test:CentralEventBus.Arn",
            "the central stack's CentralEventBusArn"
        );
        let events_role = format!("arn:{partition}:iam::{ACCOUNT}:role/{MEMBER_ROLE}-events");
        if iam_region {
            // What the offline `cfn` answers for a role's GetAtt Arn.
            let forward_role = ROLE_ARN.replacen("arn:aws:", &format!("arn:{partition}:"), 1);
            assert_eq!(target["RoleArn"], forward_role, "GetAtt ForwardRole.Arn");
            let role = properties(&stack, "ForwardRole");
            assert_eq!(role["RoleName"], format!("{MEMBER_ROLE}-events"));
            assert_eq!(
                role["Policies"][0]["PolicyDocument"]["Statement"],
                json!([{"Effect": "Allow", "Action": "events:PutEvents",
                        "Resource": "arn:test:CentralEventBus.Arn"}])
            );
            assert_eq!(
                role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
                json!({"Service": "events.amazonaws.com"})
            );
            assert!(created(&stack, "MemberRole").is_some());
        } else {
            assert_eq!(target["RoleArn"], events_role, "the IAM region's role");
            for id in ["ForwardRole", "MemberRole", "GuardrailsPolicy"] {
                assert!(created(&stack, id).is_none(), "{id} in {region}");
            }
            let iam: Vec<&str> = stack
                .resources()
                .filter(|(_, r)| {
                    r["Type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("AWS::IAM::"))
                })
                .map(|(id, _)| id)
                .collect();
            assert!(
                iam.is_empty(),
                "IAM resources outside the IAM region: {iam:?}"
            );
        }
        assert!(target["DeadLetterConfig"]["Arn"].is_string());
    }
}

#[test]
fn the_member_role_trusts_exactly_the_central_functions_role_inside_the_organisation() {
    for region in IAM_REGIONS {
        let center = central(&[], region);
        let central_role = output(&center, "FunctionRoleArn");
        let stack = member(&[], region);
        let role = properties(&stack, "MemberRole");
        assert_eq!(role["RoleName"], MEMBER_ROLE);
        assert!(role["Path"].is_null(), "no path: the contract's ARN");
        assert_eq!(
            role["AssumeRolePolicyDocument"],
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"AWS": central_role},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
                }],
            }),
            "{region}"
        );
        assert_eq!(
            member_role_arn(&stack),
            format!(
                "arn:{}:iam::{ACCOUNT}:role/{MEMBER_ROLE}",
                stack.partition()
            )
        );
        // It may never change itself.
        let own = &member_template()["Resources"]["SelfProtectionPolicy"]["Properties"]["PolicyDocument"]
            ["Statement"][0];
        assert_eq!(own["Effect"], "Deny");
        assert_eq!(own["Action"], "iam:*");
        assert_eq!(
            own["Resource"],
            json!({"Fn::GetAtt": ["MemberRole", "Arn"]})
        );
    }
}

/// The IAM and CloudTrail actions a role allows.
fn allowed(statements: &[Value]) -> BTreeSet<String> {
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| strings(&s["Action"]))
        .collect()
}

#[test]
fn the_member_role_holds_what_the_one_account_role_holds_in_every_mode_combination() {
    let params = mode_parameters(main_template());
    // The parameters both stacks take mean the same: same values, same default.
    let shared = params.values().map(String::as_str).chain([
        "ScanSchedule",
        "ExemptTag",
        "GroupPath",
        "MemberRoleName",
    ]);
    for param in shared {
        for field in ["Type", "Default", "AllowedValues", "AllowedPattern"] {
            assert_eq!(
                member_template()["Parameters"][param][field],
                main_template()["Parameters"][param][field],
                "{param}.{field}"
            );
        }
    }
    let combos = every_mode_combination();
    assert_eq!(combos.len(), 2usize.pow(params.len() as u32));
    let mut checked = 0;
    for (combo, schedule) in combos.iter().flat_map(|c| [(c, "rate(1 day)"), (c, "off")]) {
        let mut overrides: Vec<(&str, &str)> =
            combo.iter().map(|(p, m)| (p.as_str(), *m)).collect();
        overrides.push(("ScanSchedule", schedule));
        let stack = member(&overrides, "us-east-1");
        let statements = statements_of_role(&stack, "MemberRole", &["SelfProtectionPolicy"]);

        // The registry's permissions: the remediations switched on, the
        // scan's reads, and nothing else (no alert, state or queue calls).
        let mut needed = BTreeSet::new();
        if schedule != "off" {
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
                needed.extend(spec.permissions.iter().map(|p| p.to_string()));
            }
        }
        let granted = allowed(&statements);
        assert_eq!(granted, needed, "{combo:?}, scan {schedule}");

        // Statement for statement what the one-account role holds for the
        // same modes, denies and conditions included, but for its policies
        // of alerts and of organisation mode.
        let one_account = Stack::new(main_template(), &overrides);
        let role = super::role_id(main_template());
        let same = statements_of_role(
            &one_account,
            role,
            &["SelfProtectionPolicy", "OrganizationPolicy"],
        );
        let inline = one_account
            .resolve(&main_template()["Resources"][role]["Properties"]["Policies"])
            .expect("Policies");
        let inline: Vec<Value> = inline
            .as_array()
            .expect("a list")
            .iter()
            .flat_map(|p| {
                p["PolicyDocument"]["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        // The central role's calls are kept to its function's code
        // (lambda:SourceFunctionArn); a member role's session, opened by
        // that code, carries no such key.
        let same: Vec<Value> = same
            .into_iter()
            .filter(|s| !inline.contains(s) && s["Sid"] != "OnlyFromThisFunction")
            .collect();
        assert_eq!(statements, same, "{combo:?}, scan {schedule}");
        checked += 1;
    }
    assert_eq!(checked, 2 * combos.len());

    // Every mode at alert (the alert-only roll-out): no write permission.
    let stack = member(&[("ScanSchedule", "off")], "us-east-1");
    assert!(allowed(&statements_of_role(&stack, "MemberRole", &[])).is_empty());
    let stack = member(&[], "us-east-1");
    let reads = allowed(&statements_of_role(&stack, "MemberRole", &[]));
    assert!(
        reads.iter().all(|a| a.starts_with("iam:Get")
            || a.starts_with("iam:List")
            || a == "iam:GenerateCredentialReport"),
        "alert only, the role reads: {reads:?}"
    );
}

#[test]
fn both_stacks_of_organisation_mode_keep_to_their_partition() {
    for region in MEMBER_REGIONS {
        let (partition, _) = partition_of(region);
        let mut texts = vec![super::partitions::partition_sensitive_text(&member(
            &[],
            region,
        ))];
        if IAM_REGIONS.contains(&region) {
            texts.push(super::partitions::partition_sensitive_text(&central(
                &[],
                region,
            )));
        }
        for text in texts {
            if partition != "aws" {
                assert!(!text.contains("arn:aws:"), "{region}: {text}");
            }
            assert!(text.contains(&format!("arn:{partition}:")), "{region}");
        }
    }
}

/// Is this envelope a remediation's call by the member role's session
/// `trailguard`, as the patterns read it: the session's ARN (which omits a
/// role's path) and the call?
fn by_member_fix(envelope: &Value) -> bool {
    let detail = &envelope["detail"];
    let session = detail["userIdentity"]["arn"].as_str().unwrap_or("");
    let parts: Vec<&str> = session.splitn(6, ':').collect();
    parts.len() == 6
        && parts[2] == "sts"
        && parts[5] == format!("assumed-role/{MEMBER_ROLE}/trailguard")
        && remediate::makes_call(
            detail["eventSource"].as_str().unwrap_or(""),
            detail["eventName"].as_str().unwrap_or(""),
        )
}

#[test]
fn moto_leaves_out_the_functions_role_and_the_member_roles_fixes_and_nothing_else() {
    let mut names = Vec::new();
    let mut envelopes = Vec::new();
    let mut calls = BTreeSet::new();
    for s in samples::all() {
        names.push(s.name.clone());
        envelopes.push(s.envelope.clone());
        let call = (
            s.envelope["detail"]["eventSource"].to_string(),
            s.envelope["detail"]["eventName"].to_string(),
        );
        if !catalogue_covers(&s.envelope, false) || !calls.insert(call) {
            continue;
        }
        let role = |arn: String, name: &str| json!({"type": "Role", "arn": arn, "userName": name});
        let variants = [
            ("own role", {
                let name = ROLE_ARN.rsplit('/').next().expect("a name");
                role(ROLE_ARN.to_owned(), name)
            }),
            (
                "member role",
                role(
                    format!("arn:aws:iam::{ACCOUNT}:role/{MEMBER_ROLE}"),
                    MEMBER_ROLE,
                ),
            ),
            (
                "member role elsewhere",
                role(
                    format!("arn:aws-us-gov:iam::{OTHER_ACCOUNT}:role/{MEMBER_ROLE}"),
                    MEMBER_ROLE,
                ),
            ),
            (
                "member name under a path",
                role(
                    format!("arn:aws:iam::{OTHER_ACCOUNT}:role/ops/{MEMBER_ROLE}"),
                    MEMBER_ROLE,
                ),
            ),
            (
                "look-alike role",
                role(
                    format!("arn:aws:iam::{ACCOUNT}:role/{MEMBER_ROLE}-2"),
                    &format!("{MEMBER_ROLE}-2"),
                ),
            ),
            (
                "look-alike prefix",
                role(
                    format!("arn:aws:iam::{ACCOUNT}:role/x-{MEMBER_ROLE}"),
                    &format!("x-{MEMBER_ROLE}"),
                ),
            ),
            (
                "no user name",
                json!({"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/ops")}),
            ),
            ("no issuer", json!({})),
        ];
        for (label, issuer) in variants {
            names.push(format!("{} ({label})", s.name));
            envelopes.push(as_role_session(&s.envelope, issuer));
        }
        // Someone else's session of the member role itself.
        let mut other = as_role_session(
            &s.envelope,
            role(
                format!("arn:aws:iam::{ACCOUNT}:role/{MEMBER_ROLE}"),
                MEMBER_ROLE,
            ),
        );
        other["detail"]["userIdentity"]["arn"] = json!(format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/{MEMBER_ROLE}/admin"
        ));
        names.push(format!("{} (member role, another session)", s.name));
        envelopes.push(other);
        // An IAM user whose ARN ends as the member role's session does:
        // a path may hold `:` and `/`.
        let mut user = s.envelope.clone();
        user["detail"]["userIdentity"] = json!({
            "type": "IAMUser",
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/x:assumed-role/{MEMBER_ROLE}/trailguard"),
            "accountId": ACCOUNT,
            "userName": "trailguard",
        });
        names.push(format!("{} (user under a look-alike path)", s.name));
        envelopes.push(user);
    }

    let center = central(&[], "us-east-1");
    let org = pattern_of(&center, "OrganizationRule");
    let one = pattern_of(&Stack::new(main_template(), &[]), "CloudTrailRule");
    let matched = match_with_moto(&[("org", &org), ("one", &one)], &envelopes);

    let mut wrong = Vec::new();
    for (i, envelope) in envelopes.iter().enumerate() {
        let covered = catalogue_covers(envelope, false);
        let expected = [covered && !by_member_fix(envelope), covered];
        for (which, m, expected) in [
            ("org", &matched[0], expected[0]),
            ("one", &matched[1], expected[1]),
        ] {
            if m.contains(&i) != expected {
                wrong.push(format!(
                    "{which}: {} {}",
                    names[i],
                    if expected { "not matched" } else { "matched" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "moto disagrees:\n{}", wrong.join("\n"));

    let hits = |label: &str, m: &BTreeSet<usize>| {
        m.iter()
            .filter(|&&i| names[i].ends_with(&format!("({label})")))
            .count()
    };
    // The variants the catalogue covers (a root sample made a role session
    // is no longer a root call).
    let covered = |label: &str| {
        (0..names.len())
            .filter(|&i| names[i].ends_with(&format!("({label})")))
            .filter(|&i| catalogue_covers(&envelopes[i], false))
            .count()
    };
    // Of the member role's calls, the remediations' are left out, wherever
    // the role is (the patterns cannot see a path), and no other call.
    let fixes = |label: &str| {
        (0..names.len())
            .filter(|&i| names[i].ends_with(&format!("({label})")))
            .filter(|&i| catalogue_covers(&envelopes[i], false) && by_member_fix(&envelopes[i]))
            .count()
    };
    assert!(covered("member role") >= 10, "too few samples");
    assert!(fixes("member role") >= 3, "too few remediation calls");
    for label in [
        "member role",
        "member role elsewhere",
        "member name under a path",
    ] {
        assert_eq!(
            hits(label, &matched[0]),
            covered(label) - fixes(label),
            "{label}"
        );
    }
    assert_eq!(hits("own role", &matched[0]), 0);
    // One-account mode knows no member role.
    assert_eq!(hits("member role", &matched[1]), covered("member role"));
    for label in [
        "member role, another session",
        "user under a look-alike path",
        "look-alike role",
        "look-alike prefix",
        "no user name",
        "no issuer",
    ] {
        assert_eq!(hits(label, &matched[0]), covered(label), "{label}");
        assert!(covered(label) >= 10, "{label}");
    }
}

/// The service control policy docs/organization.md offers keeps everyone
/// but StackSets from the member stack's roles and forwarding rules, so no
/// one in a member account can take over the member role (whose calls
/// trailguard ignores), create a look-alike of it where the stack is not,
/// or stop the forwarding.
#[test]
fn the_offered_scp_covers_the_member_stacks_roles_and_rules() {
    let text = std::fs::read_to_string(repo().join("docs/member-scp.json")).expect("the SCP");
    let scp: Value = serde_json::from_str(&text).expect("the SCP is JSON");
    let statements = scp["Statement"].as_array().expect("statements");
    let stacksets = "arn:aws:iam::444455556666:role/aws-service-role/member.org.stacksets.cloudformation.amazonaws.com/AWSServiceRoleForCloudFormationStackSetsOrgMember";
    let denied = |action: &str, arn: &str, principal: &str| {
        statements.iter().any(|s| {
            let list = |v: &Value| -> Vec<String> {
                match v {
                    Value::String(s) => vec![s.clone()],
                    v => strings(v),
                }
            };
            s["Effect"] == "Deny"
                && list(&s["Action"]).iter().any(|a| a == action)
                && list(&s["Resource"]).iter().any(|r| arn_like(r, arn))
                && !list(&s["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
                    .iter()
                    .any(|p| arn_like(p, principal))
        })
    };
    let admin = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/Admin");
    let stack = member(&[], "us-east-1");
    for id in ["MemberRole", "ForwardRole"] {
        let name = properties(&stack, id)["RoleName"]
            .as_str()
            .expect("a RoleName")
            .to_owned();
        let arn = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/{name}");
        for action in [
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:AttachRolePolicy",
            "iam:PutRolePolicy",
            "iam:DetachRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:PutRolePermissionsBoundary",
        ] {
            assert!(
                denied(action, &arn, &admin),
                "{action} on {arn} is not denied"
            );
            assert!(
                !denied(action, &arn, stacksets),
                "{action} on {arn} is denied to StackSets too"
            );
        }
        assert!(!denied("iam:CreateRole", &format!("{arn}-other"), &admin));
    }
    // A StackSet instance's stack is named StackSet-<set>-<uuid>, and an
    // unnamed rule takes its stack's name.
    let rule = "arn:aws:events:eu-north-1:444455556666:rule/StackSet-trailguard-member-0b1c2d3e-ForwardRule-A1B2C3";
    for action in [
        "events:DeleteRule",
        "events:DisableRule",
        "events:RemoveTargets",
        "events:PutTargets",
    ] {
        assert!(
            denied(action, rule, &admin),
            "{action} on the forwarding rule"
        );
        assert!(!denied(action, rule, stacksets));
    }
    assert!(!denied(
        "events:DeleteRule",
        "arn:aws:events:eu-north-1:444455556666:rule/team-rule",
        &admin
    ));
}
