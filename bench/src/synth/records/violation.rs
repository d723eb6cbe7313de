//! Violations: records that fire known rules.

use std::fmt::Write as _;

use crate::synth::rng::{HEX, Rng, UPPER_DIGITS};

use super::call::{Call, console_login};
use super::format::{obj, stable_id, write_human_time};
use super::policies::{POLICY_ADMIN, POLICY_ADMIN_PRETTY, POLICY_S3_READ};
use super::principals::{CI_ROLE, SSO_ADMIN, TARGET_USERS, USERS, Who};
use super::{
    ACCESS_KEY_CREATED, ACCESS_KEY_REACTIVATED, ADMIN_POLICY_GRANTED, CLOUDTRAIL_TAMPERED,
    CONSOLE_LOGIN_WITHOUT_MFA, Ctx, Fired, IAM, LOGIN_PROFILE_CREATED, MFA_DEVICE_REMOVED,
    MONITORING_DISABLED, PASSWORD_POLICY_WEAKENED, ROOT_ACCESS_KEY_CREATED, ROOT_API_CALL,
    ROOT_CONSOLE_LOGIN, ROOT_CONSOLE_LOGIN_FAILED, USER_INLINE_POLICY, USER_POLICY_ATTACHED,
};

/// Kinds of violation; `kind < VIOLATION_KINDS`. Kinds below
/// `REGIONAL_VIOLATIONS` can happen in any region, the rest only where
/// CloudTrail records IAM and sign-in events.
pub const VIOLATION_KINDS: u64 = 17;
pub const REGIONAL_VIOLATIONS: u64 = 3;

/// The caller of an IAM or logging change: mostly admins, sometimes root
/// (which then also fires `root-api-call`).
fn changer(rng: &mut Rng) -> (Who, u16) {
    match rng.below(20) {
        0 => (Who::Root { invoked_by: None }, ROOT_API_CALL),
        1..=7 => (Who::User(rng.pick(&USERS)), 0),
        _ => (
            Who::Role(rng.pick(&[&SSO_ADMIN, &CI_ROLE]), rng.below(2) as usize),
            0,
        ),
    }
}

/// Writes a violation of `kind` and answers the rules it fires.
pub fn violation(ctx: &mut Ctx, kind: u64, out: &mut String) -> Fired {
    let (region, account, time) = (ctx.region, ctx.account, ctx.time);
    let rng = &mut *ctx.rng;
    let (who, root) = changer(rng);
    let (call, fired) = match kind {
        0 => {
            let (source, name, request) = rng.pick(&[
                ("ec2.amazonaws.com", "DescribeInstances", true),
                ("s3.amazonaws.com", "ListBuckets", false),
                ("ec2.amazonaws.com", "DescribeRegions", false),
                ("billing.amazonaws.com", "GetBillingPreferences", false),
            ]);
            let mut call = Call::new(Who::Root { invoked_by: None }, source, name, true);
            if request {
                call = call.request(obj(|o| {
                    o.obj("instancesSet", |_| {}).obj("filterSet", |_| {});
                }));
            }
            (call, ROOT_API_CALL)
        }
        1 => {
            let (name, request) = match rng.below(3) {
                0 => ("StopLogging", None),
                1 => ("DeleteTrail", None),
                _ => (
                    "PutEventSelectors",
                    Some(obj(|o| {
                        o.str("trailName", "org-trail").arr("eventSelectors", |a| {
                            a.obj(|s| {
                                s.str("readWriteType", "All")
                                    .bool("includeManagementEvents", false)
                                    .arr("dataResources", |d| {
                                        d.obj(|r| {
                                            r.str("type", "AWS::S3::Object").arr("values", |v| {
                                                v.str("arn:aws:s3");
                                            });
                                        });
                                    })
                                    .arr("excludeManagementEventSources", |_| {});
                            });
                        });
                    })),
                ),
            };
            let request = request.unwrap_or_else(|| {
                obj(|o| {
                    o.str_with("name", |s| {
                        let _ = write!(s, "arn:aws:cloudtrail:{region}:{account}:trail/org-trail");
                    });
                })
            });
            (
                Call::new(who, "cloudtrail.amazonaws.com", name, false).request(request),
                CLOUDTRAIL_TAMPERED | root,
            )
        }
        2 => {
            let (source, name) = rng.pick(&[
                ("config.amazonaws.com", "StopConfigurationRecorder"),
                ("config.amazonaws.com", "DeleteConfigurationRecorder"),
                ("config.amazonaws.com", "DeleteDeliveryChannel"),
                ("guardduty.amazonaws.com", "DeleteDetector"),
                ("guardduty.amazonaws.com", "UpdateDetector"),
                ("securityhub.amazonaws.com", "DisableSecurityHub"),
                ("access-analyzer.amazonaws.com", "DeleteAnalyzer"),
            ]);
            let request = obj(|o| match name {
                "DeleteDeliveryChannel" => {
                    o.str("deliveryChannelName", "default");
                }
                "DeleteDetector" | "UpdateDetector" => {
                    o.str_with("detectorId", |s| rng.chars(s, HEX, 32));
                    if name == "UpdateDetector" {
                        o.bool("enable", false);
                    }
                }
                "DeleteAnalyzer" => {
                    o.str("analyzerName", "org-analyzer");
                }
                "DisableSecurityHub" => {}
                _ => {
                    o.str("configurationRecorderName", "default");
                }
            });
            (
                Call::new(who, source, name, false).request(request),
                MONITORING_DISABLED | root,
            )
        }
        3 => (
            console_login(
                Who::Root { invoked_by: None },
                "Success",
                rng.pick(&["Yes", "No"]),
                false,
            ),
            ROOT_CONSOLE_LOGIN,
        ),
        4 => (
            console_login(Who::Root { invoked_by: None }, "Failure", "No", false),
            ROOT_CONSOLE_LOGIN_FAILED,
        ),
        5 => {
            // From the console (invokedBy signin) root's call is not counted
            // as an API call; from the CLI it is.
            let console = rng.chance(0.5);
            let response = obj(|o| {
                o.obj("accessKey", |k| {
                    k.str_with("accessKeyId", |s| {
                        s.push_str("AKIA");
                        rng.chars(s, UPPER_DIGITS, 16);
                    })
                    .str("status", "Active")
                    .str_with("createDate", |s| write_human_time(s, time));
                });
            });
            let who = Who::Root {
                invoked_by: console.then_some("signin.amazonaws.com"),
            };
            (
                Call::new(who, IAM, "CreateAccessKey", false).response(response),
                ROOT_ACCESS_KEY_CREATED | if console { 0 } else { ROOT_API_CALL },
            )
        }
        6 => (
            console_login(Who::User(rng.pick(&USERS)), "Success", "No", false),
            CONSOLE_LOGIN_WITHOUT_MFA,
        ),
        7 | 8 => {
            let admin = kind == 8;
            let policy = if admin {
                "arn:aws:iam::aws:policy/AdministratorAccess".to_owned()
            } else {
                (rng.pick(&[
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
                    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
                ]))
                .to_owned()
            };
            (
                Call::new(who, IAM, "AttachUserPolicy", false).request(obj(|o| {
                    o.str("userName", rng.pick(&TARGET_USERS))
                        .str("policyArn", &policy);
                })),
                USER_POLICY_ATTACHED | if admin { ADMIN_POLICY_GRANTED } else { 0 } | root,
            )
        }
        9 | 10 => {
            let admin = kind == 10;
            (
                Call::new(who, IAM, "PutUserPolicy", false).request(obj(|o| {
                    o.str("userName", rng.pick(&TARGET_USERS))
                        .str(
                            "policyName",
                            if admin {
                                "break-glass"
                            } else {
                                "read-artifacts"
                            },
                        )
                        .str(
                            "policyDocument",
                            if admin {
                                rng.pick(&[POLICY_ADMIN, POLICY_ADMIN_PRETTY])
                            } else {
                                POLICY_S3_READ
                            },
                        );
                })),
                USER_INLINE_POLICY | if admin { ADMIN_POLICY_GRANTED } else { 0 } | root,
            )
        }
        11 => {
            let (name, request) = match rng.below(5) {
                0 => (
                    "AttachRolePolicy",
                    obj(|o| {
                        o.str("roleName", "thumbnailer-role")
                            .str("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess");
                    }),
                ),
                1 => (
                    "AttachGroupPolicy",
                    obj(|o| {
                        o.str("groupName", "developers")
                            .str("policyArn", "arn:aws:iam::aws:policy/IAMFullAccess");
                    }),
                ),
                2 => (
                    "PutRolePolicy",
                    obj(|o| {
                        o.str("roleName", "order-service-role")
                            .str("policyName", "everything")
                            .str("policyDocument", POLICY_ADMIN);
                    }),
                ),
                3 => (
                    "CreatePolicy",
                    obj(|o| {
                        o.str("policyName", "full-access")
                            .str("policyDocument", POLICY_ADMIN_PRETTY);
                    }),
                ),
                _ => (
                    "CreatePolicyVersion",
                    obj(|o| {
                        o.str_with("policyArn", |s| {
                            let _ = write!(s, "arn:aws:iam::{account}:policy/deploy-artifacts");
                        })
                        .str("policyDocument", POLICY_ADMIN)
                        .bool("setAsDefault", true);
                    }),
                ),
            };
            (
                Call::new(who, IAM, name, false).request(request),
                ADMIN_POLICY_GRANTED | root,
            )
        }
        12 => {
            let user = rng.pick(&TARGET_USERS);
            let response = obj(|o| {
                o.obj("accessKey", |k| {
                    k.str("userName", user)
                        .str_with("accessKeyId", |s| {
                            s.push_str("AKIA");
                            rng.chars(s, UPPER_DIGITS, 16);
                        })
                        .str("status", "Active")
                        .str_with("createDate", |s| write_human_time(s, time));
                });
            });
            (
                Call::new(who, IAM, "CreateAccessKey", false)
                    .request(obj(|o| {
                        o.str("userName", user);
                    }))
                    .response(response),
                ACCESS_KEY_CREATED | root,
            )
        }
        13 => (
            Call::new(who, IAM, "UpdateAccessKey", false).request(obj(|o| {
                let user = rng.pick(&TARGET_USERS);
                o.str_with("accessKeyId", |s| {
                    stable_id(s, "AKIA", &[account, user, "key"], 16)
                })
                .str("status", "Active")
                .str("userName", user);
            })),
            ACCESS_KEY_REACTIVATED | root,
        ),
        14 => {
            let user = rng.pick(&TARGET_USERS);
            let serial = format!("arn:aws:iam::{account}:mfa/{user}");
            let call = if rng.chance(0.5) {
                Call::new(who, IAM, "DeactivateMFADevice", false).request(obj(|o| {
                    o.str("userName", user).str("serialNumber", &serial);
                }))
            } else {
                Call::new(who, IAM, "DeleteVirtualMFADevice", false).request(obj(|o| {
                    o.str("serialNumber", &serial);
                }))
            };
            (call, MFA_DEVICE_REMOVED | root)
        }
        15 => (
            Call::new(who, IAM, "CreateLoginProfile", false).request(obj(|o| {
                o.str("userName", rng.pick(&TARGET_USERS))
                    .bool("passwordResetRequired", rng.chance(0.7));
            })),
            LOGIN_PROFILE_CREATED | root,
        ),
        _ => {
            let call = if rng.chance(0.4) {
                Call::new(who, IAM, "DeleteAccountPasswordPolicy", false)
            } else {
                Call::new(who, IAM, "UpdateAccountPasswordPolicy", false).request(obj(|o| {
                    o.num("minimumPasswordLength", rng.pick(&[6, 8, 12]))
                        .bool("requireSymbols", false)
                        .bool("requireNumbers", true)
                        .bool("requireUppercaseCharacters", true)
                        .bool("requireLowercaseCharacters", true)
                        .bool("allowUsersToChangePassword", true);
                }))
            };
            (call, PASSWORD_POLICY_WEAKENED | root)
        }
    };
    call.write(ctx, out);
    Fired(fired)
}
