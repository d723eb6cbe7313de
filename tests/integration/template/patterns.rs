//! The EventBridge patterns take only `aws.*` sources and name exactly the
//! catalogue's event sources and names, and moto's pattern matcher agrees
//! on every sample, forged sources included.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use trailguard::config::{Config, DEFAULT_TOML};
use trailguard::event::CloudTrailEvent;
use trailguard::event::input::CLOUDTRAIL_DETAIL_TYPES;
use trailguard::rules::{self, Trigger};

use super::cfn::{ACCOUNT, ROLE_ARN, Stack, strings};
use super::{FORWARD, IAM, MAIN, forward_template, main_template, moto, samples};

/// EventBridge's default quota on the size of a rule's event pattern.
pub(super) const PATTERN_QUOTA: usize = 2048;

/// `eventSource -> eventNames` the registry's rules look at, and whether a
/// rule looks at any call by root.
pub(super) fn registry_catalogue() -> (BTreeMap<String, BTreeSet<String>>, bool) {
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut any_root = false;
    for trigger in rules::registry().iter().filter_map(|r| r.trigger()) {
        if let Trigger::AnyRootCall = trigger {
            any_root = true;
        }
        for (source, names) in trigger.sources() {
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
pub(super) const AWS_SOURCES: &str = "aws.";

/// What a pattern covers, read back in the registry's terms.
pub(super) fn pattern_catalogue(pattern: &Value) -> (BTreeMap<String, BTreeSet<String>>, bool) {
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
        let mut keys: BTreeSet<&str> = branch
            .as_object()
            .expect("a branch")
            .keys()
            .map(String::as_str)
            .collect();
        // A branch may say whose calls of it are left out (the member
        // role's fixes); the organisation tests check what it says.
        keys.remove("userIdentity");
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

/// The fields a pattern names, per branch, as EventBridge compiles it
/// (aws/event-ruler, `JsonRuleCompiler`): each `$or` forks the branches so
/// far, one per object, and a field sets its condition in every branch. A
/// field set twice in one branch keeps only the later condition, silently,
/// so such fields come back as errors (`Err(field)`).
pub(super) fn ruler_branches(pattern: &Value) -> Result<Vec<BTreeSet<String>>, String> {
    fn object(
        rules: &mut Vec<BTreeSet<String>>,
        path: &str,
        node: &serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        for (key, value) in node {
            if key == "$or" {
                let current = std::mem::take(rules);
                for branch in value.as_array().expect("$or takes an array") {
                    let mut forked = current.clone();
                    if forked.is_empty() {
                        forked.push(BTreeSet::new());
                    }
                    object(&mut forked, path, branch.as_object().expect("an object"))?;
                    rules.extend(forked);
                }
                continue;
            }
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match value {
                Value::Object(inner) => object(rules, &field, inner)?,
                _ => {
                    if rules.is_empty() {
                        rules.push(BTreeSet::new());
                    }
                    for rule in rules.iter_mut() {
                        if !rule.insert(field.clone()) {
                            return Err(field);
                        }
                    }
                }
            }
        }
        Ok(())
    }
    let mut rules = Vec::new();
    object(
        &mut rules,
        "",
        pattern.as_object().expect("a pattern object"),
    )?;
    Ok(rules)
}

#[test]
fn ruler_branches_finds_a_field_named_inside_and_outside_an_or() {
    let fine = json!({"a": ["x"], "$or": [{"b": ["y"]}, {"c": {"d": ["z"]}}]});
    let branches = ruler_branches(&fine).expect("no field twice");
    assert_eq!(branches.len(), 2);
    assert!(branches.iter().all(|b| b.contains("a")));
    let twice = json!({"c": {"d": ["x"]}, "$or": [{"b": ["y"]}, {"c": {"d": ["z"]}}]});
    assert_eq!(ruler_branches(&twice), Err("c.d".to_owned()));
}

#[test]
fn no_pattern_names_a_field_twice_in_one_branch() {
    for (name, stack) in [
        (MAIN, Stack::new(main_template(), &[])),
        (FORWARD, Stack::new(forward_template(), &[])),
    ] {
        let pattern = event_pattern(&stack);
        let branches = ruler_branches(&pattern).unwrap_or_else(|f| panic!("{name}: {f} twice"));
        assert!(branches.len() > 1, "{name}");
    }
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
pub(super) fn catalogue_covers(envelope: &Value, forwarding: bool) -> bool {
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
    rules::registry()
        .iter()
        .filter_map(|rule| rule.trigger())
        .any(|trigger| match trigger {
            Trigger::AnyRootCall => event.is_root(),
            trigger => trigger.matches(&event) && !(forwarding && event.source() == IAM),
        })
}

/// The caller of a sample replaced by a role session.
pub(super) fn as_role_session(envelope: &Value, issuer: Value) -> Value {
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
pub(super) fn match_with_moto(
    patterns: &[(&str, &Value)],
    envelopes: &[Value],
) -> Vec<BTreeSet<usize>> {
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
