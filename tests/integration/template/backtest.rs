//! templates/backtest.yaml: cfn-lint clean; the state machine a Distributed
//! Map over the archive's keys, batched, whose child invokes the function
//! with the batch payload trailguard reads (checked by reading it); the
//! function the one of template.yaml; each role least privilege.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Value, json};
use trailguard::replay::batch::{self, Batch, MARKER};

use super::cfn::{self, Stack, strings};
use super::{IAM_REGIONS, MAIN, main_template, policy_document, repo, run_tool};

const BACKTEST: &str = "templates/backtest.yaml";

fn template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| cfn::load(&repo().join(BACKTEST)))
}

const PARAMS: &[(&str, &str)] = &[
    ("ArchiveBucket", "org-trail"),
    ("ResultsBucket", "backtest-results"),
    ("BatchSize", "250"),
    ("MaxConcurrency", "40"),
    ("ToleratedFailurePercentage", "5"),
];

fn stack(extra: &[(&str, &str)]) -> Stack<'static> {
    let mut params = PARAMS.to_vec();
    params.extend_from_slice(extra);
    Stack::new(template(), &params)
}

/// The state machine's definition, parameters substituted, as Step
/// Functions reads it.
fn definition(stack: &Stack) -> Value {
    let machine = &template()["Resources"]["BacktestStateMachine"]["Properties"];
    let text = stack.resolve(&machine["DefinitionString"]).unwrap();
    serde_json::from_str(text.as_str().unwrap()).expect("the definition is JSON")
}

#[test]
fn cfn_lint_passes_in_the_iam_region_of_every_partition() {
    let mut args = vec!["--regions"];
    args.extend(IAM_REGIONS);
    args.extend(["--", BACKTEST]);
    let out = run_tool("cfn-lint", &args, "pip install cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_map_batches_the_listed_keys_into_the_function_with_retries_on_throttling() {
    let stack = stack(&[]);
    let d = definition(&stack);
    let map = &d["States"]["Batches"];
    assert_eq!(map["Type"], "Map");
    let processor = &map["ItemProcessor"];
    assert_eq!(processor["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    // The pruned listing: the execution's prefix of the archive bucket.
    assert_eq!(
        map["ItemReader"],
        json!({"Resource": "arn:aws:states:::s3:listObjectsV2",
               "Parameters": {"Bucket": "org-trail", "Prefix.$": "$.input.prefix"}})
    );
    // The parameters are numbers in the definition.
    assert_eq!(map["ItemBatcher"]["MaxItemsPerBatch"], 250);
    assert_eq!(map["MaxConcurrency"], 40);
    assert_eq!(map["ToleratedFailurePercentage"], 5);
    let task = &processor["States"][processor["StartAt"].as_str().unwrap()];
    assert_eq!(task["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(
        task["Parameters"],
        json!({"FunctionName": "arn:test:BacktestFunction.Arn", "Payload.$": "$"})
    );
    let retried: Vec<String> = task["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| strings(&r["ErrorEquals"]))
        .collect();
    // Lambda's own: throttling and service errors, and what a timeout or an
    // out-of-memory kill reaches the task as.
    for error in [
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.Unknown",
        "Sandbox.Timedout",
    ] {
        assert!(retried.iter().any(|e| e == error), "{error} not retried");
    }
    // States.Timeout matches only the state's own TimeoutSeconds.
    assert!(task["TimeoutSeconds"].is_null());
    assert!(
        !retried.iter().any(|e| e.starts_with("States.")),
        "{retried:?}"
    );
    assert!(task["Catch"].is_null());
    // The map's results go under the results prefix, not into the state.
    assert_eq!(
        map["ResultWriter"]["Parameters"],
        json!({"Bucket": "backtest-results", "Prefix": "backtests/map-runs"})
    );
}

/// Of the function's own errorTypes, the task retries exactly those the
/// batch handler emits for a failure that may pass: bad input or a denied
/// write would read the whole batch again for the same answer.
#[test]
fn the_task_retries_exactly_the_batch_errors_that_may_pass() {
    let d = definition(&stack(&[]));
    let processor = &d["States"]["Batches"]["ItemProcessor"];
    let task = &processor["States"][processor["StartAt"].as_str().unwrap()];
    let ours: BTreeSet<String> = task["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| strings(&r["ErrorEquals"]))
        .filter(|e| e.starts_with("trailguard."))
        .collect();
    let transient: BTreeSet<String> = batch::RETRIED_ERROR_TYPES
        .iter()
        .map(|e| (*e).to_owned())
        .collect();
    assert_eq!(ours, transient);
    for e in ours {
        assert!(batch::ERROR_TYPES.contains(&e.as_str()), "{e}");
    }
    for never in [batch::BAD_INPUT, batch::ACCESS_DENIED, batch::FAILED] {
        assert!(!transient.contains(never), "{never}");
    }
}

/// The payload a child hands the function, built as Step Functions builds
/// it from the definition: the `Input` state's output, the batch input's
/// paths resolved against it. trailguard reads it as a batch.
#[test]
fn the_childs_payload_is_a_batch_trailguard_reads() {
    let d = definition(&stack(&[]));
    let input = &d["States"]["Input"]["Parameters"];
    let defaults = input["input.$"].as_str().unwrap();
    let start = defaults.find("'{").unwrap() + 1;
    let end = defaults.find("}'").unwrap() + 1;
    let mut state: Value = serde_json::from_str(&defaults[start..end]).unwrap();
    // By default an execution reads the whole archive folder.
    assert_eq!(state["prefix"], "AWSLogs/");
    // An execution naming only its prefix and config.
    state["prefix"] = json!("AWSLogs/o-a1b2c3d4e5/111122223333/");
    let config = "[modes]\naccess-key-created = \"remediate\"\n";
    state["config"] = json!(config);
    assert!(
        input["results.$"]
            .as_str()
            .unwrap()
            .starts_with("States.Format('s3://backtest-results/backtests/{}/', $$.Execution.Name)")
    );
    let state = json!({"input": state, "results": "s3://backtest-results/backtests/exec-1/"});
    let mut batch_input = serde_json::Map::new();
    for (k, v) in d["States"]["Batches"]["ItemBatcher"]["BatchInput"]
        .as_object()
        .unwrap()
    {
        match k.strip_suffix(".$") {
            Some(field) => {
                let path = v.as_str().unwrap().strip_prefix("$.").unwrap();
                let value = path.split('.').fold(&state, |s, p| &s[p]);
                batch_input.insert(field.to_owned(), value.clone());
            }
            None => {
                batch_input.insert(k.clone(), v.clone());
            }
        }
    }
    assert_eq!(batch_input["trailguard"], MARKER);
    // The execution's config reaches the function as it was given.
    assert_eq!(batch_input["config"], config);
    let payload = json!({"BatchInput": batch_input, "Items": [
        {"Etag": "\"e\"", "Key": "AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-east-1/2024/03/01/x.json.gz",
         "LastModified": "2024-03-01T00:05:00Z", "Size": 1234, "StorageClass": "STANDARD"}]});
    let batch = Batch::from_payload(&payload).unwrap();
    assert_eq!(batch.bucket, "org-trail");
    assert_eq!(batch.results.bucket, "backtest-results");
    assert_eq!(batch.results.prefix, "backtests/exec-1/");
    assert!(!batch.filter.is_active());
    let rule = trailguard::rules::find("access-key-created").unwrap();
    assert_eq!(batch.config.mode(rule), trailguard::rules::Mode::Remediate);
    // Without a config in the execution input, the built-in default.
    batch_input.insert("config".into(), Value::Null);
    let default = Batch::from_payload(&json!({"BatchInput": batch_input, "Items": []})).unwrap();
    assert_eq!(default.config.mode(rule), trailguard::rules::Mode::Alert);
}

/// An archive folder given to the stack is the execution's default prefix.
#[test]
fn the_archive_prefix_is_the_executions_default() {
    let d = definition(&stack(&[("ArchivePrefix", "trail/AWSLogs/")]));
    let defaults = d["States"]["Input"]["Parameters"]["input.$"]
        .as_str()
        .unwrap();
    assert!(
        defaults.contains(r#"'{"prefix": "trail/AWSLogs/", "config": null"#),
        "{defaults}"
    );
}

/// The prefixes go into IAM resources and ASL strings: they must be
/// folders (never empty, which would grant the whole bucket), without a
/// character IAM reads as a wildcard or that would end an ASL string.
#[test]
fn the_prefix_parameters_take_folders_only() {
    let candidates = [
        ("backtests/", true),
        ("team/backtests-2026/", true),
        ("AWSLogs/", true),
        ("trail.prefix/AWSLogs/", true),
        ("", false),
        ("backtests", false),
        ("/backtests/", false),
        ("team//backtests/", false),
        ("back*/", false),
        ("back?/", false),
        ("it's/", false),
        ("a\"b/", false),
        ("${AWS::Region}/", false),
    ];
    let script = "import json, re, sys\n\
                  p, cs = sys.argv[1], json.loads(sys.argv[2])\n\
                  print(json.dumps([re.fullmatch(p, c) is not None for c in cs]))";
    let inputs = serde_json::to_string(&candidates.map(|(c, _)| c)).unwrap();
    for parameter in ["ResultsPrefix", "ArchivePrefix"] {
        let decl = &template()["Parameters"][parameter];
        let pattern = decl["AllowedPattern"].as_str().unwrap();
        assert!(
            candidates.contains(&(decl["Default"].as_str().unwrap(), true)),
            "{parameter}"
        );
        let out = run_tool("python3", &["-c", script, pattern, &inputs], "python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let accepted: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
        for ((value, expected), got) in candidates.iter().zip(accepted) {
            assert_eq!(got, *expected, "{parameter} `{value}`");
        }
    }
}

#[test]
fn the_function_is_the_main_templates_code() {
    let (_, main) = super::function(main_template());
    let (_, backtest) = super::function(template());
    for key in ["Handler", "Runtime", "Architectures"] {
        assert_eq!(
            backtest["Properties"][key], main["Properties"][key],
            "{key}"
        );
    }
    assert_eq!(backtest["Metadata"], main["Metadata"]);
    let code = |t: &str, f: &Value| {
        let dir = repo()
            .join(t)
            .parent()
            .unwrap()
            .join(f["Properties"]["CodeUri"].as_str().unwrap());
        dir.canonicalize().unwrap()
    };
    assert_eq!(code(BACKTEST, backtest), code(MAIN, main));
    assert_eq!(
        backtest["Properties"]["Role"],
        json!({"Fn::GetAtt": ["BacktestFunctionRole", "Arn"]})
    );
    // The same code runs batches only where this variable says so, and the
    // live function never gets it.
    assert_eq!(
        backtest["Properties"]["Environment"],
        json!({"Variables": {trailguard::lambda::BACKTEST_ENV: "true"}})
    );
    let live = &main["Properties"]["Environment"]["Variables"];
    assert!(live.is_object(), "{live}");
    assert!(
        live.get(trailguard::lambda::BACKTEST_ENV).is_none(),
        "{live}"
    );
    assert!(
        main_template()
            .to_string()
            .find("TRAILGUARD_BACKTEST")
            .is_none()
    );
}

/// `(action, resource)` for every Allow of a role's policies; no Deny, no
/// wildcard action.
fn grants(stack: &Stack, role: &str) -> BTreeSet<(String, String)> {
    let decl = &template()["Resources"][role]["Properties"];
    assert!(
        decl["ManagedPolicyArns"].is_null(),
        "{role}: no managed policies"
    );
    let mut out = BTreeSet::new();
    for p in stack
        .resolve(&decl["Policies"])
        .unwrap()
        .as_array()
        .unwrap()
    {
        let doc = policy_document(p["PolicyDocument"].clone(), role);
        for s in doc["Statement"].as_array().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            for action in strings(&s["Action"]) {
                assert!(!action.contains('*'), "{role}: {action}");
                for resource in strings(&s["Resource"]) {
                    out.insert((action.clone(), resource));
                }
            }
        }
    }
    out
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect()
}

#[test]
fn the_function_reads_the_archive_and_writes_the_results_prefix_only() {
    let expected = [
        ("s3:GetObject", "arn:aws:s3:::org-trail/AWSLogs/*"),
        ("s3:PutObject", "arn:aws:s3:::backtest-results/backtests/*"),
        ("logs:CreateLogStream", "arn:test:BacktestLogGroup.Arn"),
        ("logs:PutLogEvents", "arn:test:BacktestLogGroup.Arn"),
    ];
    assert_eq!(grants(&stack(&[]), "BacktestFunctionRole"), set(&expected));
    // SSE-KMS: decrypt with that key alone, through S3.
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let kms = stack(&[
        ("ArchiveKmsKeyArn", key),
        ("ArchivePrefix", "trail/AWSLogs/"),
        ("ResultsPrefix", "team/backtests/"),
    ]);
    let mut with_kms = expected.to_vec();
    with_kms[0] = ("s3:GetObject", "arn:aws:s3:::org-trail/trail/AWSLogs/*");
    with_kms[1] = (
        "s3:PutObject",
        "arn:aws:s3:::backtest-results/team/backtests/*",
    );
    with_kms.push(("kms:Decrypt", key));
    assert_eq!(grants(&kms, "BacktestFunctionRole"), set(&with_kms));
    let policies = kms
        .resolve(&template()["Resources"]["BacktestFunctionRole"]["Properties"]["Policies"])
        .unwrap();
    let decrypt = policies[0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"] == "kms:Decrypt")
        .unwrap()
        .clone();
    assert_eq!(
        decrypt["Condition"],
        json!({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})
    );
}

#[test]
fn the_state_machine_invokes_the_function_and_runs_its_own_children_only() {
    let machine = "arn:aws:states:us-east-1:111122223333:stateMachine:trailguard-backtest";
    let children = "arn:aws:states:us-east-1:111122223333:execution:trailguard-backtest/*";
    let results = "arn:aws:s3:::backtest-results/backtests/*";
    let stack = stack(&[]);
    assert_eq!(
        grants(&stack, "BacktestStateMachineRole"),
        set(&[
            ("lambda:InvokeFunction", "arn:test:BacktestFunction.Arn"),
            ("lambda:InvokeFunction", "arn:test:BacktestFunction.Arn:*"),
            ("states:StartExecution", machine),
            ("states:DescribeExecution", children),
            ("states:StopExecution", children),
            // The item reader's listing and the result writer's files.
            ("s3:ListBucket", "arn:aws:s3:::org-trail"),
            ("s3:PutObject", results),
            ("s3:AbortMultipartUpload", results),
            ("s3:ListMultipartUploadParts", results),
        ])
    );
    // The item reader lists the archive folder only.
    let policies = stack
        .resolve(&template()["Resources"]["BacktestStateMachineRole"]["Properties"]["Policies"])
        .unwrap();
    let statements = policies[0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    let list = statements
        .iter()
        .find(|s| s["Action"] == "s3:ListBucket")
        .unwrap();
    assert_eq!(
        list["Condition"],
        json!({"StringLike": {"s3:prefix": "AWSLogs/*"}})
    );
    for s in statements.iter().filter(|s| s["Action"] != "s3:ListBucket") {
        assert!(s["Condition"].is_null(), "{s}");
    }
    // The machine it may start is itself.
    let name = stack
        .resolve(&template()["Resources"]["BacktestStateMachine"]["Properties"]["StateMachineName"])
        .unwrap();
    assert!(machine.ends_with(&format!(":stateMachine:{}", name.as_str().unwrap())));
}
