//! `scripts/bench org`: organisation mode against moto. 1,000 CreateAccessKey
//! events spread over 200 member accounts, each remediated (the key
//! deactivated) through the member role; prints the `sts:AssumeRole` calls
//! (at most one per account) and the handler's latency per event.
//!
//! `org-bench [--events N] [--accounts N]`. Every outcome is checked (the
//! first event of an account deactivates its key, the others find it done):
//! a fast wrong answer is no figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use trailguard::Config;
use trailguard::effects::MemberAccess;
use trailguard::effects::aws_member::AwsMembers;
use trailguard::live::{LiveContext, handle_event};
use trailguard_bench::moto::MotoS3;

const FIXTURE: &str = include_str!("../tests/fixtures/live/create-access-key.json");

fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .with_context(|| format!("{name} needs a number"))?
            .parse()?),
        None => Ok(default),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let events = arg("--events", 1000)?;
    let accounts = arg("--accounts", 200)?;
    ensure!(
        accounts > 0 && events >= accounts,
        "need events >= accounts > 0"
    );
    ensure!(
        MotoS3::available(),
        "python3 -m moto.server is missing: pip install \"moto[server]\""
    );
    let moto = MotoS3::start().context("starting moto")?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        .load()
        .await;

    // Each member account: bob with one active access key.
    let ids: Vec<String> = (0..accounts)
        .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
        .collect();
    let mut keys = Vec::with_capacity(accounts);
    for id in &ids {
        let provider =
            aws_config::sts::AssumeRoleProvider::builder(format!("arn:aws:iam::{id}:role/setup"))
                .session_name("setup")
                .configure(&sdk)
                .build()
                .await;
        let conf = sdk
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        let iam = aws_sdk_iam::Client::new(&conf);
        iam.create_user().user_name("bob").send().await?;
        let key = iam.create_access_key().user_name("bob").send().await?;
        keys.push(
            key.access_key()
                .context("no key")?
                .access_key_id()
                .to_owned(),
        );
    }

    let config = Config::from_toml(
        "[modes]\naccess-key-created = \"remediate\"\n[remediation]\npropagation_delay_seconds = 0\n[organization]\nmember_role_name = \"trailguard-member\"",
        "org-bench",
        std::iter::empty(),
    )?;
    let members = Arc::new(AwsMembers::new(&sdk, "trailguard-member"));
    let ctx = LiveContext::from_sdk_config(config, &sdk, None)?.with_accounts(
        Some("123456789012".into()),
        Some(members.clone() as Arc<dyn MemberAccess>),
    );

    let template: serde_json::Value = serde_json::from_str(FIXTURE)?;
    let mut latencies = Vec::with_capacity(events);
    let started = Instant::now();
    for i in 0..events {
        let a = i % accounts;
        let mut e = template.clone();
        e["account"] = ids[a].clone().into();
        let d = &mut e["detail"];
        d["recipientAccountId"] = ids[a].clone().into();
        d["eventID"] = format!("bench-{i}").into();
        d["userIdentity"]["accountId"] = ids[a].clone().into();
        d["userIdentity"]["arn"] = format!("arn:aws:iam::{}:user/alice", ids[a]).into();
        d["requestParameters"]["userName"] = "bob".into();
        d["responseElements"]["accessKey"]["userName"] = "bob".into();
        d["responseElements"]["accessKey"]["accessKeyId"] = keys[a].clone().into();
        let t = Instant::now();
        let outcome = handle_event(e, &ctx).await;
        latencies.push(t.elapsed());
        let outcome = match outcome {
            Ok(o) => o,
            Err(err) => bail!("event {i} failed: {err}"),
        };
        let status = outcome
            .findings
            .iter()
            .find(|f| f.rule == "access-key-created")
            .and_then(|f| f.remediation.as_ref())
            .map(|r| r.status.as_str())
            .unwrap_or("none");
        let expected = if i < accounts { "done" } else { "unchanged" };
        ensure!(
            status == expected,
            "event {i}: remediation {status}, expected {expected}"
        );
    }
    let total = started.elapsed();
    latencies.sort();
    let assumed = members.assume_role_calls();
    ensure!(
        assumed <= accounts,
        "{assumed} AssumeRole calls for {accounts} accounts"
    );
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("| events | accounts | AssumeRole calls | p50 | p99 | max | total |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {events} | {accounts} | {assumed} | {} | {} | {} | {:.1} s |",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        total.as_secs_f64()
    );
    Ok(())
}
