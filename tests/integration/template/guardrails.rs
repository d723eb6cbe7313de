//! The denies that keep a compromised function from granting admin
//! policies, detaching AWS's quarantine policies or changing exempt users,
//! in every mode combination and in place before any Allow.
//!
//! moto does not evaluate IAM conditions (nor does any local tool we have), so
//! the denies and conditions are checked on the resolved template: the exact
//! operator, key and values IAM will read.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::cfn::{ACCOUNT, Stack, strings};
use super::role::resource_kind;
use super::{
    IAM_REGIONS, every_mode_combination, function, main_template, mode_parameters, policy_document,
    role_id, role_statements, run_tool,
};

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
    // Every Deny names what it denies, but the one that keeps the role's
    // permissions to this function's code (checked on its own).
    for s in statements
        .iter()
        .filter(|s| s["Effect"] == "Deny" && s["Sid"] != "OnlyFromThisFunction")
    {
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
    let declared: BTreeSet<String> = trailguard::remediate::remediations()
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
    // The function runs after every guardrail but the one that names it
    // (which restricts other functions given the role, not this one).
    let (id, f) = function(stack.template);
    let after = depends(f);
    let missing: Vec<_> = guardrails
        .difference(&after)
        .filter(|g| *g != "OnlyThisFunctionPolicy")
        .collect();
    assert!(missing.is_empty(), "{id} may run before {missing:?}");
}

/// Whoever may pass the role to another function gets none of its
/// permissions there: every call but those Lambda makes outside the
/// function's code (queues, their keys, logs) is denied unless it comes
/// from this function (`lambda:SourceFunctionArn`, which Lambda sets on
/// every call from a function's execution environment).
#[test]
fn the_roles_permissions_hold_only_from_this_functions_code() {
    let stack = Stack::new(main_template(), &[]);
    let policy = stack
        .resolve(&main_template()["Resources"]["OnlyThisFunctionPolicy"]["Properties"])
        .expect("OnlyThisFunctionPolicy");
    assert_eq!(
        policy["RoleName"],
        stack
            .resolve(&json!({"Ref": role_id(stack.template)}))
            .expect("the role")
    );
    assert_eq!(
        policy["PolicyDocument"]["Statement"],
        json!([{
            "Sid": "OnlyFromThisFunction",
            "Effect": "Deny",
            "NotAction": ["logs:*", "sqs:*", "kms:*"],
            "Resource": "*",
            "Condition": {"ArnNotLike": {"lambda:SourceFunctionArn": ["arn:test:TrailguardFunction.Arn", "arn:test:TrailguardFunction.Arn:*"]}}
        }])
    );
    // In organisation mode with a scan, queueing one is this code's alone.
    let org = super::organization::central(&[], "us-east-1");
    let statements = org
        .resolve(
            &main_template()["Resources"]["OnlyThisFunctionPolicy"]["Properties"]["PolicyDocument"]
                ["Statement"],
        )
        .expect("statements");
    assert_eq!(
        statements[1],
        json!({
            "Sid": "OnlyThisFunctionQueuesScans",
            "Effect": "Deny",
            "Action": "sqs:SendMessage",
            "Resource": "arn:test:ScanQueue.Arn",
            "Condition": {"ArnNotLike": {"lambda:SourceFunctionArn": ["arn:test:TrailguardFunction.Arn", "arn:test:TrailguardFunction.Arn:*"]}}
        })
    );
    // Each remediation's Allow comes after it.
    for (id, r) in main_template()["Resources"].as_object().expect("Resources") {
        if r["Type"] == "AWS::IAM::RolePolicy"
            && r["Properties"]["PolicyName"]
                .as_str()
                .is_some_and(|n| n.starts_with("remediation-"))
        {
            assert!(
                strings(&r["DependsOn"])
                    .iter()
                    .any(|d| d == "OnlyThisFunctionPolicy"),
                "{id}"
            );
        }
    }
}
