//! Background noise: the everyday calls of a working account, mostly reads,
//! none of which fires a rule.

mod reads;
mod writes;

use crate::synth::records::Ctx;
use crate::synth::records::principals::{
    APP_ROLE, AUDIT_ROLE, CI_ROLE, DATADOG_ROLE, NODE_ROLE, Role, SSO_READONLY, USERS, Who,
};
use crate::synth::rng::Rng;

use reads::{
    cloudtrail_reads, cloudwatch, dynamodb, ec2_describe, ecr, elb, iam_read, kms, lambda, logs,
    s3, security_reads, ssm, sts,
};
use writes::{console_login_with_mfa, denied, ec2_write, iam_benign_write, service_event};

/// Families of everyday calls and their share of an account's records.
const FAMILIES: [u32; 19] = [
    150, // ec2 describe
    140, // kms by services and roles
    130, // sts
    120, // s3
    80,  // iam read (global)
    80,  // ssm
    50,  // logs
    40,  // cloudwatch
    35,  // lambda
    30,  // dynamodb
    30,  // ecr
    30,  // elb, autoscaling
    30,  // config, guardduty, securityhub, access analyzer reads
    10,  // cloudtrail reads
    4,   // console sign-in with MFA (global)
    15,  // ec2 writes, RunInstances (large responses)
    6,   // benign IAM writes (global)
    20,  // denied calls
    5,   // service events
];

/// An everyday record that fires no rule.
pub fn background(ctx: &mut Ctx, out: &mut String) {
    let mut weights = FAMILIES;
    if !ctx.global() {
        weights[4] = 0;
        weights[14] = 0;
        weights[16] = 0;
    }
    let call = match ctx.rng.weighted(&weights) {
        0 => ec2_describe(ctx),
        1 => kms(ctx),
        2 => sts(ctx),
        3 => s3(ctx),
        4 => iam_read(ctx),
        5 => ssm(ctx),
        6 => logs(ctx),
        7 => cloudwatch(ctx),
        8 => lambda(ctx),
        9 => dynamodb(ctx),
        10 => ecr(ctx),
        11 => elb(ctx),
        12 => security_reads(ctx),
        13 => cloudtrail_reads(ctx),
        14 => console_login_with_mfa(ctx),
        15 => ec2_write(ctx),
        16 => iam_benign_write(ctx),
        17 => denied(ctx),
        _ => service_event(ctx),
    };
    call.write(ctx, out);
}

fn reader(rng: &mut Rng) -> Who {
    let roles: [&'static Role; 6] = [
        &NODE_ROLE,
        &DATADOG_ROLE,
        &AUDIT_ROLE,
        &SSO_READONLY,
        &CI_ROLE,
        &APP_ROLE,
    ];
    match rng.below(20) {
        0 => Who::User(rng.pick(&USERS)),
        _ => Who::Role(rng.pick(&roles), rng.below(4) as usize),
    }
}
