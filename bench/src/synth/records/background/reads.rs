//! The read-only families of background calls.

use std::fmt::Write as _;

use crate::synth::json::Arr;
use crate::synth::records::call::{Call, arn_resource};
use crate::synth::records::format::{obj, stable_id, write_human_time};
use crate::synth::records::principals::{
    AGENT_SSM, APP_ROLE, AUDIT_ROLE, CI_ROLE, CONFIG_ROLE, DATADOG_ROLE, HUMAN_USERS, NODE_ROLE,
    Role, SSO_READONLY, USERS, Who,
};
use crate::synth::records::{Ctx, IAM};
use crate::synth::rng::{ALNUM, BASE64, HEX, Rng, UPPER_DIGITS};

use super::reader;

pub(super) fn ec2_describe(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "DescribeInstances",
        "DescribeVolumes",
        "DescribeSecurityGroups",
        "DescribeSubnets",
        "DescribeNetworkInterfaces",
        "DescribeInstanceStatus",
        "DescribeVpcs",
        "DescribeTags",
        "DescribeImages",
        "DescribeSnapshots",
    ]);
    let who = reader(rng);
    let n = rng.below(4);
    let request = obj(|o| {
        match name {
            "DescribeInstances" | "DescribeInstanceStatus" => {
                o.obj("instancesSet", |s| {
                    s.arr("items", |a| {
                        for _ in 0..n {
                            a.obj(|i| {
                                i.str_with("instanceId", |s| {
                                    s.push_str("i-0");
                                    rng.chars(s, HEX, 16);
                                });
                            });
                        }
                    });
                });
            }
            "DescribeImages" => {
                o.obj("executableSet", |_| {})
                    .obj("imagesSet", |_| {})
                    .obj("ownersSet", |s| {
                        s.arr("items", |a| {
                            a.obj(|i| {
                                i.str("owner", "amazon");
                            });
                        });
                    });
            }
            _ => {}
        }
        o.obj("filterSet", |f| {
            f.arr("items", |a| {
                for _ in 0..rng.below(3) {
                    a.obj(|i| {
                        i.str(
                            "name",
                            rng.pick(&["tag:Name", "vpc-id", "instance-state-name", "tag:env"]),
                        )
                        .obj("valueSet", |v| {
                            v.arr("items", |a| {
                                a.obj(|x| {
                                    x.str(
                                        "value",
                                        rng.pick(&["web-*", "running", "prod", "vpc-0a1b2c3d"]),
                                    );
                                });
                            });
                        });
                    });
                }
            });
        });
        if rng.chance(0.5) {
            o.num("maxResults", rng.pick(&[100, 500, 1000]));
        }
    });
    Call::new(who, "ec2.amazonaws.com", name, true).request(request)
}

fn key_arn(s: &mut String, rng: &mut Rng, region: &str, account: &str) {
    let _ = write!(s, "arn:aws:kms:{region}:{account}:key/");
    rng.uuid(s);
}

pub(super) fn kms(ctx: &mut Ctx) -> Call {
    let (region, account) = (ctx.region, ctx.account);
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "Decrypt",
        "Decrypt",
        "GenerateDataKey",
        "Encrypt",
        "DescribeKey",
    ]);
    let service = rng.pick(&[
        "s3.amazonaws.com",
        "secretsmanager.amazonaws.com",
        "ssm.amazonaws.com",
        "lambda.amazonaws.com",
        "logs.amazonaws.com",
    ]);
    let who = if rng.chance(0.6) {
        Who::Service(service)
    } else {
        reader(rng)
    };
    let mut key = String::new();
    key_arn(&mut key, rng, region, account);
    let request = obj(|o| {
        o.obj("encryptionContext", |c| match service {
            "s3.amazonaws.com" => {
                c.str_with("aws:s3:arn", |s| {
                    let _ = write!(s, "arn:aws:s3:::orders-{account}-{region}/exports/");
                    rng.chars(s, HEX, 24);
                    s.push_str(".parquet");
                });
            }
            "lambda.amazonaws.com" => {
                c.str_with("aws:lambda:FunctionArn", |s| {
                    let _ = write!(
                        s,
                        "arn:aws:lambda:{region}:{account}:function:order-service"
                    );
                });
            }
            "secretsmanager.amazonaws.com" => {
                c.str_with("SecretARN", |s| {
                    let _ = write!(
                        s,
                        "arn:aws:secretsmanager:{region}:{account}:secret:prod/db-"
                    );
                    rng.chars(s, ALNUM, 6);
                })
                .str("SecretVersionId", "AWSCURRENT");
            }
            _ => {
                c.str_with("PARAMETER_ARN", |s| {
                    let _ = write!(s, "arn:aws:ssm:{region}:{account}:parameter/app/prod/key");
                });
            }
        })
        .str("encryptionAlgorithm", "SYMMETRIC_DEFAULT");
        if name == "GenerateDataKey" {
            o.str("keySpec", "AES_256");
        }
        o.str("keyId", &key);
    });
    Call::new(who, "kms.amazonaws.com", name, name != "GenerateDataKey")
        .request(request)
        .resources(arn_resource(account, "AWS::KMS::Key", key))
}

fn session_token(s: &mut String, rng: &mut Rng) {
    s.push_str("IQoJb3JpZ2luX2VjE");
    let n = rng.range(350, 650) as usize;
    rng.chars(s, BASE64, n);
}

pub(super) fn sts(ctx: &mut Ctx) -> Call {
    let (account, time) = (ctx.account, ctx.time);
    let rng = &mut *ctx.rng;
    if rng.chance(0.2) {
        return Call::new(reader(rng), "sts.amazonaws.com", "GetCallerIdentity", true);
    }
    let (who, role, session): (Who, &Role, String) = match rng.below(4) {
        0 | 1 => {
            let service = rng.pick(&[
                "lambda.amazonaws.com",
                "ec2.amazonaws.com",
                "ecs-tasks.amazonaws.com",
            ]);
            let role = if service == "ec2.amazonaws.com" {
                &NODE_ROLE
            } else {
                &APP_ROLE
            };
            let mut session = String::new();
            if service == "ec2.amazonaws.com" {
                session.push_str("i-0");
                rng.chars(&mut session, HEX, 16);
            } else {
                session.push_str("awslambda_");
                let _ = write!(session, "{}_{}", rng.below(900) + 100, time * 1000);
            }
            (Who::Service(service), role, session)
        }
        2 => (
            Who::Role(&CI_ROLE, 0),
            &DATADOG_ROLE,
            "DatadogAWSIntegration".into(),
        ),
        _ => (
            Who::User(rng.pick(&HUMAN_USERS)),
            &AUDIT_ROLE,
            format!("audit-{}", rng.below(10_000)),
        ),
    };
    let role_arn = format!("arn:aws:iam::{account}:role{}{}", role.path, role.name);
    let request = obj(|o| {
        o.str("roleArn", &role_arn).str("roleSessionName", &session);
        if rng.chance(0.5) {
            o.num("durationSeconds", rng.pick(&[900, 3600, 43200]));
        }
    });
    let response = obj(|o| {
        o.obj("credentials", |c| {
            c.str_with("accessKeyId", |s| {
                s.push_str("ASIA");
                rng.chars(s, UPPER_DIGITS, 16);
            })
            .str_with("sessionToken", |s| session_token(s, rng))
            .str_with("expiration", |s| write_human_time(s, time + 3600));
        })
        .obj("assumedRoleUser", |u| {
            u.str_with("assumedRoleId", |s| {
                stable_id(s, "AROA", &[account, role.name], 17);
                s.push(':');
                s.push_str(&session);
            })
            .str_with("arn", |s| {
                let _ = write!(
                    s,
                    "arn:aws:sts::{account}:assumed-role/{}/{session}",
                    role.name
                );
            });
        });
    });
    Call::new(who, "sts.amazonaws.com", "AssumeRole", true)
        .request(request)
        .response(response)
        .resources(arn_resource(account, "AWS::IAM::Role", role_arn))
}

pub(super) fn s3(ctx: &mut Ctx) -> Call {
    let (account, region) = (ctx.account, ctx.region);
    let rng = &mut *ctx.rng;
    let bucket = format!(
        "{}-{account}-{region}",
        rng.pick(&["orders", "logs", "artifacts", "backups"])
    );
    let data = rng.chance(0.6);
    let name = if data {
        rng.pick(&["GetObject", "GetObject", "PutObject", "HeadObject"])
    } else {
        rng.pick(&[
            "ListBuckets",
            "GetBucketLocation",
            "GetBucketPolicy",
            "GetBucketAcl",
            "GetBucketVersioning",
            "HeadBucket",
            "GetBucketTagging",
        ])
    };
    let who = if data && rng.chance(0.7) {
        Who::Role(&APP_ROLE, rng.below(2) as usize)
    } else {
        reader(rng)
    };
    let mut key = String::new();
    if data {
        let _ = write!(
            key,
            "{}/{}/",
            rng.pick(&["exports", "uploads", "tmp", "year=2024"]),
            rng.below(1000)
        );
        rng.chars(&mut key, ALNUM, 20);
        key.push_str(".json");
    }
    let request = obj(|o| {
        o.str("bucketName", &bucket).str_with("Host", |s| {
            let _ = write!(s, "{bucket}.s3.{region}.amazonaws.com");
        });
        if data {
            o.str("key", &key);
        } else if name == "GetBucketPolicy" {
            o.str("policy", "");
        }
    });
    let additional = obj(|o| {
        o.str("SignatureVersion", "SigV4")
            .str("CipherSuite", "TLS_AES_128_GCM_SHA256")
            .num(
                "bytesTransferredIn",
                if name == "PutObject" {
                    rng.range(100, 5_000_000)
                } else {
                    0
                },
            )
            .str("AuthenticationMethod", "AuthHeader")
            .str_with("x-amz-id-2", |s| rng.chars(s, BASE64, 76))
            .num(
                "bytesTransferredOut",
                if name == "GetObject" {
                    rng.range(100, 5_000_000)
                } else {
                    0
                },
            );
    });
    let mut resources = String::new();
    let mut arr = Arr::new(&mut resources);
    if data {
        arr.obj(|o| {
            o.str("type", "AWS::S3::Object").str_with("ARN", |s| {
                let _ = write!(s, "arn:aws:s3:::{bucket}/{key}");
            });
        });
    }
    arr.obj(|o| {
        o.str("accountId", account)
            .str("type", "AWS::S3::Bucket")
            .str_with("ARN", |s| {
                let _ = write!(s, "arn:aws:s3:::{bucket}");
            });
    });
    arr.end();
    let mut call = Call::new(who, "s3.amazonaws.com", name, name != "PutObject")
        .request(request)
        .additional(additional)
        .resources(resources);
    if name == "PutObject" {
        call = call.response(obj(|o| {
            o.str("x-amz-server-side-encryption", "aws:kms")
                .str_with("x-amz-version-id", |s| ctx.rng.chars(s, ALNUM, 32));
        }));
    }
    call.data_event = data;
    call
}

pub(super) fn iam_read(ctx: &mut Ctx) -> Call {
    let account = ctx.account;
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "ListRoles",
        "GetRole",
        "ListPolicies",
        "GetPolicyVersion",
        "ListAttachedRolePolicies",
        "ListUsers",
        "GetUser",
        "ListAccessKeys",
        "GetAccountSummary",
        "ListMFADevices",
        "GetAccountPasswordPolicy",
        "GenerateCredentialReport",
    ]);
    let who = Who::Role(
        rng.pick(&[&AUDIT_ROLE, &DATADOG_ROLE, &SSO_READONLY, &CONFIG_ROLE]),
        rng.below(3) as usize,
    );
    let request = match name {
        "GetRole" | "ListAttachedRolePolicies" => Some(obj(|o| {
            o.str(
                "roleName",
                rng.pick(&[
                    "order-service-role",
                    "eks-node-group-role",
                    "SecurityAuditRole",
                ]),
            );
        })),
        "GetPolicyVersion" => Some(obj(|o| {
            o.str_with("policyArn", |s| {
                let _ = write!(s, "arn:aws:iam::{account}:policy/deploy-artifacts");
            })
            .str("versionId", "v3");
        })),
        "ListPolicies" => Some(obj(|o| {
            o.str("scope", "Local").bool("onlyAttached", false);
        })),
        "GetUser" | "ListAccessKeys" | "ListMFADevices" => Some(obj(|o| {
            o.str("userName", rng.pick(&USERS));
        })),
        "ListRoles" | "ListUsers" => Some(obj(|o| {
            o.num("maxItems", 100);
        })),
        _ => None,
    };
    let mut call = Call::new(who, IAM, name, true);
    call.request = request;
    if name == "GenerateCredentialReport" {
        call = call.response(obj(|o| {
            o.str("state", "STARTED").str(
                "description",
                "No report exists. Starting a new report generation task",
            );
        }));
    }
    call
}

pub(super) fn ssm(ctx: &mut Ctx) -> Call {
    let (account, region) = (ctx.account, ctx.region);
    let rng = &mut *ctx.rng;
    match rng.below(3) {
        0 => {
            let request = obj(|o| {
                o.str_with("instanceId", |s| {
                    s.push_str("i-0");
                    rng.chars(s, HEX, 16);
                })
                .str("agentVersion", "3.2.2143.0")
                .str("agentName", "amazon-ssm-agent")
                .str(
                    "iPAddress",
                    &format!("10.0.{}.{}", rng.below(256), rng.range(1, 254)),
                )
                .str("platformType", "Linux")
                .str("platformName", "Amazon Linux")
                .str("platformVersion", "2023")
                .str_with("computerName", |s| {
                    s.push_str("ip-10-0-");
                    let _ = write!(s, "{}-{}", rng.below(256), rng.below(256));
                    let _ = write!(s, ".{region}.compute.internal");
                })
                .str("agentStatus", "Active")
                .str("availabilityZone", &format!("{region}a"))
                .str("availabilityZoneId", "use1-az4");
            });
            Call::new(
                Who::Role(&NODE_ROLE, rng.below(3) as usize),
                "ssm.amazonaws.com",
                "UpdateInstanceInformation",
                false,
            )
            .agent(AGENT_SSM)
            .request(request)
        }
        1 => {
            let names = rng.range(1, 6);
            let (name, request) = if names == 1 {
                (
                    "GetParameter",
                    obj(|o| {
                        o.str_with("name", |s| {
                            let _ = write!(
                                s,
                                "/app/prod/{}",
                                rng.pick(&["db-url", "api-key", "feature-flags"])
                            );
                        })
                        .bool("withDecryption", rng.chance(0.5));
                    }),
                )
            } else {
                (
                    "GetParameters",
                    obj(|o| {
                        o.arr("names", |a| {
                            for i in 0..names {
                                a.str(&format!("/app/prod/setting-{i}"));
                            }
                        })
                        .bool("withDecryption", true);
                    }),
                )
            };
            let _ = account;
            Call::new(reader(rng), "ssm.amazonaws.com", name, true).request(request)
        }
        _ => Call::new(
            reader(rng),
            "ssm.amazonaws.com",
            rng.pick(&[
                "ListAssociations",
                "DescribeInstanceInformation",
                "ListCommands",
            ]),
            true,
        )
        .request(obj(|o| {
            o.num("maxResults", 50);
        })),
    }
}

pub(super) fn logs(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "CreateLogStream",
        "DescribeLogGroups",
        "DescribeLogStreams",
        "FilterLogEvents",
    ]);
    let group = format!(
        "/aws/{}",
        rng.pick(&[
            "lambda/order-service",
            "eks/prod/cluster",
            "rds/instance/prod/postgresql"
        ])
    );
    let request = obj(|o| match name {
        "CreateLogStream" => {
            o.str("logGroupName", &group)
                .str_with("logStreamName", |s| {
                    s.push_str("2024/03/01/[$LATEST]");
                    rng.chars(s, HEX, 32);
                });
        }
        "DescribeLogGroups" => {
            o.str("logGroupNamePrefix", "/aws/");
        }
        "DescribeLogStreams" => {
            o.str("logGroupName", &group)
                .str("orderBy", "LastEventTime")
                .bool("descending", true)
                .num("limit", 50);
        }
        _ => {
            o.str("logGroupName", &group)
                .num("startTime", 1_709_251_200_000)
                .str("filterPattern", "?ERROR ?Exception")
                .bool("interleaved", true);
        }
    });
    let who = if name == "CreateLogStream" {
        Who::Role(&APP_ROLE, rng.below(2) as usize)
    } else {
        reader(rng)
    };
    Call::new(who, "logs.amazonaws.com", name, name != "CreateLogStream").request(request)
}

pub(super) fn cloudwatch(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let name = rng.pick(&["GetMetricData", "DescribeAlarms", "ListMetrics"]);
    let request = obj(|o| {
        if name == "GetMetricData" {
            // Monitoring agents ask for many series at once: large requests.
            let n = rng.range(2, 25);
            o.arr("metricDataQueries", |a| {
                for i in 0..n {
                    a.obj(|q| {
                        q.str_with("id", |s| {
                            let _ = write!(s, "m{i}");
                        })
                        .obj("metricStat", |m| {
                            m.obj("metric", |mm| {
                                mm.str(
                                    "namespace",
                                    rng.pick(&[
                                        "AWS/EC2",
                                        "AWS/Lambda",
                                        "AWS/RDS",
                                        "AWS/ApplicationELB",
                                    ]),
                                )
                                .str(
                                    "metricName",
                                    rng.pick(&[
                                        "CPUUtilization",
                                        "Invocations",
                                        "Errors",
                                        "Duration",
                                        "RequestCount",
                                    ]),
                                )
                                .arr("dimensions", |d| {
                                    d.obj(|x| {
                                        x.str("name", "InstanceId").str_with("value", |s| {
                                            s.push_str("i-0");
                                            rng.chars(s, HEX, 16);
                                        });
                                    });
                                });
                            })
                            .num("period", 300)
                            .str("stat", "Average");
                        })
                        .bool("returnData", true);
                    });
                }
            })
            .str("startTime", "Mar 1, 2024, 12:00:00 AM")
            .str("endTime", "Mar 1, 2024, 12:10:00 AM");
        } else {
            o.num("maxRecords", 100);
        }
    });
    Call::new(
        Who::Role(&DATADOG_ROLE, 0),
        "monitoring.amazonaws.com",
        name,
        true,
    )
    .request(request)
}

pub(super) fn lambda(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "GetFunction20150331v2",
        "ListFunctions20150331",
        "GetFunctionConfiguration20150331v2",
        "ListTags20170331",
    ]);
    let request = if name.starts_with("ListFunctions") {
        None
    } else {
        Some(obj(|o| {
            o.str(
                "functionName",
                rng.pick(&["order-service", "invoice-worker", "thumbnailer"]),
            );
        }))
    };
    let mut call = Call::new(reader(rng), "lambda.amazonaws.com", name, true);
    call.request = request;
    call
}

pub(super) fn dynamodb(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "DescribeTable",
        "ListTables",
        "DescribeContinuousBackups",
        "DescribeTimeToLive",
    ]);
    let request = if name == "ListTables" {
        None
    } else {
        Some(obj(|o| {
            o.str("tableName", rng.pick(&["orders", "sessions", "invoices"]));
        }))
    };
    let mut call = Call::new(reader(rng), "dynamodb.amazonaws.com", name, true);
    call.request = request;
    call
}

pub(super) fn ecr(ctx: &mut Ctx) -> Call {
    let account = ctx.account;
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "GetAuthorizationToken",
        "BatchGetImage",
        "GetDownloadUrlForLayer",
        "BatchCheckLayerAvailability",
    ]);
    let request = if name == "GetAuthorizationToken" {
        None
    } else {
        Some(obj(|o| {
            o.str("repositoryName", rng.pick(&["order-service", "nginx-base"]))
                .str("registryId", account);
            if name == "BatchGetImage" {
                o.arr("imageIds", |a| {
                    a.obj(|i| {
                        i.str("imageTag", "latest");
                    });
                })
                .arr("acceptedMediaTypes", |a| {
                    a.str("application/vnd.docker.distribution.manifest.v2+json")
                        .str("application/vnd.oci.image.manifest.v1+json");
                });
            } else {
                o.str_with("layerDigest", |s| {
                    s.push_str("sha256:");
                    rng.chars(s, HEX, 64);
                });
            }
        }))
    };
    let mut call = Call::new(
        Who::Role(&NODE_ROLE, rng.below(3) as usize),
        "ecr.amazonaws.com",
        name,
        true,
    );
    call.request = request;
    call
}

pub(super) fn elb(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let (source, name) = rng.pick(&[
        ("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth"),
        (
            "elasticloadbalancing.amazonaws.com",
            "DescribeLoadBalancers",
        ),
        ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups"),
        ("autoscaling.amazonaws.com", "DescribeScalingActivities"),
    ]);
    let request = obj(|o| {
        if name == "DescribeTargetHealth" {
            o.str_with("targetGroupArn", |s| {
                let _ = write!(
                    s,
                    "arn:aws:elasticloadbalancing:{}:{}:targetgroup/web/",
                    ctx.region, ctx.account
                );
                rng.chars(s, HEX, 16);
            });
        } else {
            o.num("maxRecords", 100);
        }
    });
    Call::new(reader(rng), source, name, true).request(request)
}

pub(super) fn security_reads(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let (source, name, read_only) = rng.pick(&[
        ("config.amazonaws.com", "PutEvaluations", false),
        (
            "config.amazonaws.com",
            "DescribeConfigurationRecorderStatus",
            true,
        ),
        ("guardduty.amazonaws.com", "ListDetectors", true),
        ("guardduty.amazonaws.com", "GetFindings", true),
        ("securityhub.amazonaws.com", "BatchImportFindings", false),
        ("securityhub.amazonaws.com", "GetFindings", true),
        ("access-analyzer.amazonaws.com", "ListAnalyzers", true),
    ]);
    let who = if source == "config.amazonaws.com" {
        Who::Role(&CONFIG_ROLE, 0)
    } else {
        reader(rng)
    };
    let request = obj(|o| match name {
        "PutEvaluations" => {
            o.arr("evaluations", |a| {
                for _ in 0..rng.range(1, 5) {
                    a.obj(|e| {
                        e.str("complianceResourceType", "AWS::EC2::Instance")
                            .str_with("complianceResourceId", |s| {
                                s.push_str("i-0");
                                rng.chars(s, HEX, 16);
                            })
                            .str("complianceType", rng.pick(&["COMPLIANT", "NON_COMPLIANT"]))
                            .str("orderingTimestamp", "Mar 1, 2024, 12:00:00 AM");
                    });
                }
            })
            .str_with("resultToken", |s| rng.chars(s, BASE64, 200))
            .bool("testMode", false);
        }
        "GetFindings" => {
            o.str_with("detectorId", |s| rng.chars(s, HEX, 32))
                .arr("findingIds", |a| {
                    for _ in 0..rng.range(1, 10) {
                        a.str(&{
                            let mut s = String::new();
                            rng.chars(&mut s, HEX, 32);
                            s
                        });
                    }
                });
        }
        _ => {
            o.num("maxResults", 50);
        }
    });
    Call::new(who, source, name, read_only).request(request)
}

pub(super) fn cloudtrail_reads(ctx: &mut Ctx) -> Call {
    let rng = &mut *ctx.rng;
    let name = rng.pick(&[
        "DescribeTrails",
        "GetTrailStatus",
        "LookupEvents",
        "GetEventSelectors",
    ]);
    let request = obj(|o| match name {
        "DescribeTrails" => {
            o.bool("includeShadowTrails", true);
        }
        "LookupEvents" => {
            o.num("maxResults", 50).arr("lookupAttributes", |a| {
                a.obj(|x| {
                    x.str("attributeKey", "EventName")
                        .str("attributeValue", "ConsoleLogin");
                });
            });
        }
        _ => {
            o.str_with("name", |s| {
                let _ = write!(
                    s,
                    "arn:aws:cloudtrail:us-east-1:{}:trail/org-trail",
                    ctx.account
                );
            });
        }
    });
    Call::new(reader(rng), "cloudtrail.amazonaws.com", name, true).request(request)
}
