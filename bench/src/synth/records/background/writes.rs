//! The writing families of background calls: sign-ins with MFA, EC2 and
//! benign IAM writes, denied calls and service events.

use crate::synth::records::call::{Call, console_login};
use crate::synth::records::format::obj;
use crate::synth::records::policies::{POLICY_S3_READ, TRUST_LAMBDA};
use crate::synth::records::principals::{
    APP_ROLE, CI_ROLE, HUMAN_USERS, NODE_ROLE, SSO_ADMIN, SSO_READONLY, TARGET_USERS, Who,
};
use crate::synth::records::{Ctx, IAM};
use crate::synth::rng::HEX;

pub(super) fn console_login_with_mfa(ctx: &mut Ctx) -> Call {
    if ctx.rng.chance(0.5) {
        console_login(
            Who::User(ctx.rng.pick(&HUMAN_USERS)),
            "Success",
            "Yes",
            false,
        )
    } else {
        // Identity Center sessions: an assumed role, never an IAM user.
        console_login(
            Who::Role(&SSO_ADMIN, ctx.rng.below(2) as usize),
            "Success",
            "No",
            false,
        )
    }
}

pub(super) fn ec2_write(ctx: &mut Ctx) -> Call {
    let (region, account) = (ctx.region, ctx.account);
    let rng = &mut *ctx.rng;
    let who = Who::Role(rng.pick(&[&CI_ROLE, &SSO_ADMIN]), rng.below(2) as usize);
    if rng.chance(0.5) {
        let n = rng.range(1, 4);
        let response = obj(|o| {
            o.str_with("requestId", |s| rng.uuid(s))
                .str_with("reservationId", |s| {
                    s.push_str("r-0");
                    rng.chars(s, HEX, 16);
                })
                .str("ownerId", account)
                .obj("groupSet", |_| {})
                .obj("instancesSet", |is| {
                    is.arr("items", |a| {
                        for i in 0..n {
                            a.obj(|x| {
                                let mut id = String::from("i-0");
                                rng.chars(&mut id, HEX, 16);
                                let ip = format!("10.0.{}.{}", rng.below(256), rng.range(1, 254));
                                x.str("instanceId", &id)
                                    .str("imageId", "ami-0c101f26f147fa7fd")
                                    .obj("instanceState", |s| {
                                        s.num("code", 0).str("name", "pending");
                                    })
                                    .str(
                                        "privateDnsName",
                                        &format!("ip-{}.ec2.internal", ip.replace('.', "-")),
                                    )
                                    .num("amiLaunchIndex", i)
                                    .obj("productCodes", |_| {})
                                    .str(
                                        "instanceType",
                                        rng.pick(&["m6i.large", "t3.medium", "c7g.xlarge"]),
                                    )
                                    .num("launchTime", 1_709_251_200_000)
                                    .obj("placement", |p| {
                                        p.str("availabilityZone", &format!("{region}b"))
                                            .str("tenancy", "default");
                                    })
                                    .obj("monitoring", |m| {
                                        m.str("state", "disabled");
                                    })
                                    .str("subnetId", "subnet-0a1b2c3d4e5f60718")
                                    .str("vpcId", "vpc-0a1b2c3d4e5f60718")
                                    .str("privateIpAddress", &ip)
                                    .obj("stateReason", |s| {
                                        s.str("code", "pending").str("message", "pending");
                                    })
                                    .str("architecture", "x86_64")
                                    .str("rootDeviceType", "ebs")
                                    .str("rootDeviceName", "/dev/xvda")
                                    .obj("blockDeviceMapping", |_| {})
                                    .str("virtualizationType", "hvm")
                                    .str_with("clientToken", |s| rng.uuid(s))
                                    .obj("groupSet", |g| {
                                        g.arr("items", |a| {
                                            a.obj(|x| {
                                                x.str("groupId", "sg-0123456789abcdef0")
                                                    .str("groupName", "web");
                                            });
                                        });
                                    })
                                    .obj("networkInterfaceSet", |n| {
                                        n.arr("items", |a| {
                                            a.obj(|x| {
                                                x.str_with("networkInterfaceId", |s| {
                                                    s.push_str("eni-0");
                                                    rng.chars(s, HEX, 16);
                                                })
                                                .str("subnetId", "subnet-0a1b2c3d4e5f60718")
                                                .str("vpcId", "vpc-0a1b2c3d4e5f60718")
                                                .str("ownerId", account)
                                                .str("status", "in-use")
                                                .str_with("macAddress", |s| {
                                                    for k in 0..6 {
                                                        if k > 0 {
                                                            s.push(':');
                                                        }
                                                        rng.chars(s, HEX, 2);
                                                    }
                                                })
                                                .str("privateIpAddress", &ip)
                                                .bool("sourceDestCheck", true)
                                                .str("interfaceType", "interface");
                                            });
                                        });
                                    })
                                    .bool("ebsOptimized", true)
                                    .bool("enaSupport", true)
                                    .obj("metadataOptions", |m| {
                                        m.str("state", "pending")
                                            .str("httpTokens", "required")
                                            .num("httpPutResponseHopLimit", 2)
                                            .str("httpEndpoint", "enabled");
                                    });
                            });
                        }
                    });
                })
                .str("requesterId", "940372691376");
        });
        let request = obj(|o| {
            o.obj("instancesSet", |s| {
                s.arr("items", |a| {
                    a.obj(|x| {
                        x.str("imageId", "ami-0c101f26f147fa7fd")
                            .num("minCount", n)
                            .num("maxCount", n);
                    });
                });
            })
            .str("instanceType", "m6i.large")
            .obj("blockDeviceMapping", |_| {})
            .obj("monitoring", |m| {
                m.bool("enabled", false);
            })
            .bool("disableApiTermination", false)
            .bool("ebsOptimized", true);
        });
        Call::new(who, "ec2.amazonaws.com", "RunInstances", false)
            .request(request)
            .response(response)
    } else {
        let name = rng.pick(&[
            "CreateTags",
            "TerminateInstances",
            "AuthorizeSecurityGroupIngress",
            "CreateSnapshot",
        ]);
        let request = obj(|o| {
            o.obj("resourcesSet", |r| {
                r.arr("items", |a| {
                    a.obj(|x| {
                        x.str_with("resourceId", |s| {
                            s.push_str("i-0");
                            rng.chars(s, HEX, 16);
                        });
                    });
                });
            });
        });
        let response = obj(|o| {
            o.str_with("requestId", |s| rng.uuid(s))
                .bool("_return", true);
        });
        Call::new(who, "ec2.amazonaws.com", name, false)
            .request(request)
            .response(response)
    }
}

pub(super) fn iam_benign_write(ctx: &mut Ctx) -> Call {
    let account = ctx.account;
    let rng = &mut *ctx.rng;
    let who = Who::Role(rng.pick(&[&CI_ROLE, &SSO_ADMIN]), rng.below(2) as usize);
    let (name, request) = match rng.below(7) {
        0 => (
            "CreateRole",
            obj(|o| {
                o.str("roleName", "thumbnailer-role")
                    .str("path", "/service-role/")
                    .str("assumeRolePolicyDocument", TRUST_LAMBDA);
            }),
        ),
        1 => (
            "AttachRolePolicy",
            obj(|o| {
                o.str("roleName", "thumbnailer-role").str(
                    "policyArn",
                    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                );
            }),
        ),
        2 => (
            "PutRolePolicy",
            obj(|o| {
                o.str("roleName", "thumbnailer-role")
                    .str("policyName", "read-artifacts")
                    .str("policyDocument", POLICY_S3_READ);
            }),
        ),
        3 => (
            "CreateUser",
            obj(|o| {
                o.str("userName", rng.pick(&TARGET_USERS)).str("path", "/");
            }),
        ),
        4 => (
            "AddUserToGroup",
            obj(|o| {
                o.str("groupName", "developers")
                    .str("userName", rng.pick(&TARGET_USERS));
            }),
        ),
        5 => (
            "CreatePolicy",
            obj(|o| {
                o.str("policyName", "deploy-artifacts")
                    .str("policyDocument", POLICY_S3_READ);
            }),
        ),
        _ => (
            "AttachGroupPolicy",
            obj(|o| {
                o.str("groupName", "auditors")
                    .str("policyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess");
            }),
        ),
    };
    let _ = account;
    Call::new(who, IAM, name, false).request(request)
}

pub(super) fn denied(ctx: &mut Ctx) -> Call {
    let account = ctx.account;
    let rng = &mut *ctx.rng;
    let who_role = rng.pick(&[&APP_ROLE, &NODE_ROLE, &SSO_READONLY]);
    let session = rng.below(2) as usize;
    let (source, name, code) = rng.pick(&[
        (
            "ec2.amazonaws.com",
            "DescribeInstances",
            "Client.UnauthorizedOperation",
        ),
        ("s3.amazonaws.com", "GetBucketPolicy", "AccessDenied"),
        (
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            "AccessDenied",
        ),
        ("kms.amazonaws.com", "Decrypt", "AccessDeniedException"),
        ("dynamodb.amazonaws.com", "DescribeTable", "AccessDenied"),
    ]);
    let message = format!(
        "User: arn:aws:sts::{account}:assumed-role/{}/{} is not authorized to perform: {}:{name} because no identity-based policy allows the {}:{name} action",
        who_role.name,
        who_role.sessions[session % who_role.sessions.len()],
        source.trim_end_matches(".amazonaws.com"),
        source.trim_end_matches(".amazonaws.com"),
    );
    Call::new(Who::Role(who_role, session), source, name, true).error(code, message)
}

pub(super) fn service_event(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let (source, name) = rng.pick(&[
        ("kms.amazonaws.com", "RotateKey"),
        ("sso.amazonaws.com", "Federate"),
        ("ec2.amazonaws.com", "SharedSnapshotCopyInitiated"),
    ]);
    let mut call = Call::new(Who::Service(source), source, name, false);
    call.event_type = "AwsServiceEvent";
    call.agent = Some(source);
    call
}
