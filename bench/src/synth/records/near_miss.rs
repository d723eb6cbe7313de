//! Near misses: records that look like violations but must fire nothing.

use crate::synth::rng::HEX;

use super::call::{Call, console_login};
use super::format::{obj, stable_id};
use super::policies::POLICY_QUARANTINE;
use super::principals::{HUMAN_USERS, SSO_ADMIN, TARGET_USERS, Who};
use super::{Ctx, IAM};

/// A record that looks like a violation but must fire nothing.
pub fn near_miss(ctx: &mut Ctx, out: &mut String) {
    let global = ctx.global();
    let kinds = if global { 11 } else { 5 };
    let account = ctx.account;
    let rng = &mut *ctx.rng;
    let admin = Who::Role(&SSO_ADMIN, rng.below(2) as usize);
    let call = match rng.below(kinds) {
        // Regional.
        0 => Call::new(
            admin,
            "cloudtrail.amazonaws.com",
            "PutEventSelectors",
            false,
        )
        .request(obj(|o| {
            o.str("trailName", "org-trail").arr("eventSelectors", |a| {
                a.obj(|s| {
                    s.str("readWriteType", "All")
                        .bool("includeManagementEvents", true)
                        .arr("dataResources", |d| {
                            d.obj(|r| {
                                r.str("type", "AWS::S3::Object").arr("values", |v| {
                                    v.str("arn:aws:s3");
                                });
                            });
                        });
                });
            });
        })),
        1 => {
            Call::new(admin, "guardduty.amazonaws.com", "UpdateDetector", false).request(obj(|o| {
                o.str_with("detectorId", |s| rng.chars(s, HEX, 32))
                    .bool("enable", true)
                    .str("findingPublishingFrequency", "FIFTEEN_MINUTES");
            }))
        }
        2 => Call::new(
            Who::Root {
                invoked_by: Some("support.amazonaws.com"),
            },
            "ec2.amazonaws.com",
            "DescribeInstances",
            true,
        ),
        3 => Call::new(admin, "cloudtrail.amazonaws.com", "StopLogging", false)
            .request(obj(|o| {
                o.str("name", "org-trail");
            }))
            .error(
                "AccessDenied",
                "User is not authorized to perform: cloudtrail:StopLogging".into(),
            ),
        4 => Call::new(
            Who::Root { invoked_by: None },
            "s3.amazonaws.com",
            "ListBuckets",
            true,
        )
        .error("AccessDenied", "Access Denied".into()),
        // Global (IAM, sign-in).
        5 => Call::new(admin, IAM, "CreateAccessKey", false)
            .request(obj(|o| {
                o.str("userName", rng.pick(&TARGET_USERS));
            }))
            .error(
                "LimitExceededException",
                "Cannot exceed quota for AccessKeysPerUser: 2".into(),
            ),
        6 => console_login(Who::User(rng.pick(&HUMAN_USERS)), "Success", "No", true),
        7 => Call::new(
            Who::Service("iam.amazonaws.com"),
            IAM,
            "AttachUserPolicy",
            false,
        )
        .request(obj(|o| {
            o.str("userName", rng.pick(&TARGET_USERS)).str(
                "policyArn",
                "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            );
        })),
        // Only AWS itself (an AWSService identity) putting a quarantine
        // inline is excepted; from anyone else the name proves nothing.
        8 => Call::new(
            Who::Service("iam.amazonaws.com"),
            IAM,
            "PutUserPolicy",
            false,
        )
        .request(obj(|o| {
            o.str("userName", rng.pick(&TARGET_USERS))
                .str("policyName", "AWSExposedCredentialPolicy_DO_NOT_REMOVE")
                .str("policyDocument", POLICY_QUARANTINE);
        })),
        9 => Call::new(admin, IAM, "UpdateAccessKey", false).request(obj(|o| {
            o.str_with("accessKeyId", |s| {
                stable_id(s, "AKIA", &[account, "bob", "key"], 16)
            })
            .str("status", "Inactive")
            .str("userName", "bob");
        })),
        _ => Call::new(admin, IAM, "UpdateAccountPasswordPolicy", false).request(obj(|o| {
            o.num("minimumPasswordLength", 16)
                .bool("requireSymbols", true)
                .bool("requireNumbers", true)
                .bool("requireUppercaseCharacters", true)
                .bool("requireLowercaseCharacters", true)
                .bool("allowUsersToChangePassword", true)
                .num("maxPasswordAge", 90)
                .num("passwordReusePrevention", 24)
                .bool("hardExpiry", false);
        })),
    };
    call.write(ctx, out);
}
