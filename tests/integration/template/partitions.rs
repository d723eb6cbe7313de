//! Both stacks deploy in the IAM region of every partition with no ARN,
//! region or domain of another partition.

use serde_json::{Value, json};
use trailguard::config::{Config, DEFAULT_TOML};

use super::cfn::{ACCOUNT, Stack, partition_of};
use super::{
    IAM_REGIONS, forward_template, function_env, main_template, mode_parameters, policy_document,
};

/// Other regions of the same three partitions.
const OTHER_REGIONS: [&str; 3] = ["eu-west-1", "us-gov-east-1", "cn-northwest-1"];

/// Everything a stack creates, resolved, minus the strings that are the same
/// in every partition (service principals, CloudTrail event sources) and the
/// descriptions, which are prose.
pub(super) fn partition_sensitive_text(stack: &Stack) -> String {
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
