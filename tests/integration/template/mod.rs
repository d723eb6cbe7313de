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
//!
//! One file per concern: `lint`, `function` (the function and its
//! parameters), `role` (the permissions of every mode combination),
//! `guardrails`, `partitions`, `patterns`; this file loads the templates and
//! reads the function, its role and its environment out of them for all of
//! them, with `cfn` (CloudFormation evaluated offline), `samples` and `moto`.

mod alerts;
mod backtest;
mod cfn;
mod function;
mod guardrails;
mod lint;
mod moto;
mod organization;
mod partitions;
mod patterns;
mod role;
mod samples;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use cfn::Stack;

const MAIN: &str = "template.yaml";
const FORWARD: &str = "templates/forward-to-us-east-1.yaml";
/// The member stack of organisation mode (a service-managed StackSet).
const MEMBER: &str = "templates/member.yaml";
/// IAM is global: its events reach EventBridge only in us-east-1, where the
/// main stack runs, so the forwarding stack leaves them out.
const IAM: &str = "iam.amazonaws.com";
/// The region of each partition (aws, aws-us-gov, aws-cn) where IAM's events
/// reach EventBridge, so where the main stack runs.
const IAM_REGIONS: [&str; 3] = ["us-east-1", "us-gov-west-1", "cn-north-1"];

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

fn member_template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| cfn::load(&repo().join(MEMBER)))
}

/// Runs a tool from PyPI, failing with the install hint when it is missing.
fn run_tool(program: &str, args: &[&str], install: &str) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): install it with `{install}`"))
}

// Reading the template -------------------------------------------------------

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
    statements_of_role(stack, role, &[])
}

/// Every statement of every policy of the role `role` (a logical id) in
/// this stack, but those of the policy resources named in `leave_out`.
fn statements_of_role(stack: &Stack, role: &str, leave_out: &[&str]) -> Vec<Value> {
    let template = stack.template;
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
        if leave_out.contains(&id) {
            continue;
        }
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
