//! CloudTrail records shaped like the real ones (`tests/corpus/`): the
//! background noise of a working account, near misses that look like
//! violations but must not fire, and violations whose rules are known.
//!
//! Every writer returns the rules its record fires under trailguard's
//! built-in default config ([`Fired`]). These expectations are written here
//! independently of the engine; the benchmark and the tests check that
//! `trailguard replay` finds exactly them.

use std::fmt::Write as _;

use super::json::{Arr, Obj};
use super::rng::{ALNUM, BASE64, HEX, Rng, UPPER_DIGITS};

/// Ids of the rules that fire on events, in trailguard's catalogue order
/// (the scan rules read the credential report, never an event).
pub const RULES: [&str; 15] = [
    "root-console-login",
    "root-console-login-failed",
    "root-api-call",
    "root-access-key-created",
    "console-login-without-mfa",
    "user-policy-attached",
    "user-inline-policy",
    "admin-policy-granted",
    "access-key-created",
    "access-key-reactivated",
    "mfa-device-removed",
    "login-profile-created",
    "password-policy-weakened",
    "cloudtrail-tampered",
    "monitoring-disabled",
];

const ROOT_CONSOLE_LOGIN: u16 = 1 << 0;
const ROOT_CONSOLE_LOGIN_FAILED: u16 = 1 << 1;
const ROOT_API_CALL: u16 = 1 << 2;
const ROOT_ACCESS_KEY_CREATED: u16 = 1 << 3;
const CONSOLE_LOGIN_WITHOUT_MFA: u16 = 1 << 4;
const USER_POLICY_ATTACHED: u16 = 1 << 5;
const USER_INLINE_POLICY: u16 = 1 << 6;
const ADMIN_POLICY_GRANTED: u16 = 1 << 7;
const ACCESS_KEY_CREATED: u16 = 1 << 8;
const ACCESS_KEY_REACTIVATED: u16 = 1 << 9;
const MFA_DEVICE_REMOVED: u16 = 1 << 10;
const LOGIN_PROFILE_CREATED: u16 = 1 << 11;
const PASSWORD_POLICY_WEAKENED: u16 = 1 << 12;
const CLOUDTRAIL_TAMPERED: u16 = 1 << 13;
const MONITORING_DISABLED: u16 = 1 << 14;

/// The rules one record fires: bit `i` is `RULES[i]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired(pub u16);

impl Fired {
    pub fn rules(self) -> impl Iterator<Item = usize> {
        (0..RULES.len()).filter(move |i| self.0 & (1 << i) != 0)
    }
}

/// Where CloudTrail records IAM, STS-global and sign-in events.
pub const GLOBAL_REGION: &str = "us-east-1";

/// One account of the synthetic organisation.
#[derive(Debug)]
pub struct Account {
    pub id: &'static str,
    /// Relative share of the archive's files.
    pub weight: u32,
}

pub const ACCOUNTS: [Account; 3] = [
    Account {
        id: "111122223333",
        weight: 5,
    },
    Account {
        id: "444455556666",
        weight: 3,
    },
    Account {
        id: "777788889999",
        weight: 2,
    },
];

/// Regions, their share of files and the largest file they deliver.
pub const REGIONS: [(&str, u32, u64); 4] = [
    ("us-east-1", 55, 4000),
    ("eu-west-1", 25, 2500),
    ("us-west-2", 12, 1200),
    ("ap-southeast-2", 8, 300),
];

const IAM: &str = "iam.amazonaws.com";
const SIGNIN: &str = "signin.amazonaws.com";

/// The context of the record being written.
pub struct Ctx<'a> {
    pub rng: &'a mut Rng,
    pub account: &'static str,
    pub region: &'static str,
    /// Seconds since the Unix epoch.
    pub time: u64,
}

impl Ctx<'_> {
    fn global(&self) -> bool {
        self.region == GLOBAL_REGION
    }
}

// Principals -------------------------------------------------------------

const USERS: [&str; 5] = [
    "alice",
    "bob",
    "ci-deploy",
    "legacy-etl",
    "monitoring-exporter",
];
const HUMAN_USERS: [&str; 2] = ["alice", "bob"];
const TARGET_USERS: [&str; 6] = [
    "bob",
    "contractor-jane",
    "svc-backup",
    "ci-deploy",
    "temp-audit",
    "legacy-etl",
];

struct Role {
    name: &'static str,
    path: &'static str,
    sessions: &'static [&'static str],
    agents: &'static [&'static str],
}

const SSO_ADMIN: Role = Role {
    name: "AWSReservedSSO_AdministratorAccess_5d8a1f2b3c4e6a7b",
    path: "/aws-reserved/sso.amazonaws.com/",
    sessions: &["alice@example.com", "carol@example.com"],
    agents: &[AGENT_CONSOLE, AGENT_CLI, AGENT_TERRAFORM],
};
const SSO_READONLY: Role = Role {
    name: "AWSReservedSSO_ReadOnlyAccess_9b1c2d3e4f5a6b7c",
    path: "/aws-reserved/sso.amazonaws.com/",
    sessions: &["dave@example.com", "erin@example.com", "frank@example.com"],
    agents: &[AGENT_CONSOLE, AGENT_CLI],
};
const APP_ROLE: Role = Role {
    name: "order-service-role",
    path: "/service-role/",
    sessions: &["order-service", "invoice-worker"],
    agents: &[AGENT_GO, AGENT_BOTO],
};
const NODE_ROLE: Role = Role {
    name: "eks-node-group-role",
    path: "/",
    sessions: &[
        "i-0a1b2c3d4e5f6a7b8",
        "i-0c9d8e7f6a5b4c3d2",
        "i-07e6d5c4b3a291807",
    ],
    agents: &[AGENT_GO, AGENT_SSM],
};
const CI_ROLE: Role = Role {
    name: "github-actions-deploy",
    path: "/ci/",
    sessions: &["GitHubActions"],
    agents: &[AGENT_TERRAFORM, AGENT_CLI],
};
const AUDIT_ROLE: Role = Role {
    name: "SecurityAuditRole",
    path: "/",
    sessions: &["prowler-scan", "steampipe"],
    agents: &[AGENT_BOTO, AGENT_GO],
};
const DATADOG_ROLE: Role = Role {
    name: "datadog-integration-role",
    path: "/",
    sessions: &["DatadogAWSIntegration"],
    agents: &[AGENT_DATADOG],
};
const CONFIG_ROLE: Role = Role {
    name: "AWSServiceRoleForConfig",
    path: "/aws-service-role/config.amazonaws.com/",
    sessions: &["AWSConfig-Describe"],
    agents: &["config.amazonaws.com"],
};

const AGENT_CONSOLE: &str = "AWS Internal";
const AGENT_CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/sts.get-caller-identity";
const AGENT_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0 md/GOOS#linux md/GOARCH#amd64";
const AGENT_GO: &str =
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.1";
const AGENT_BOTO: &str = "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/1.34.51";
const AGENT_SSM: &str = "aws-sdk-go/1.44.302 (go1.20.6; linux; amd64) amazon-ssm-agent/3.2.2143.0";
const AGENT_DATADOG: &str = "datadog-agent/7.51.0 aws-sdk-go/1.50.10 (go1.21.6; linux; amd64)";
const AGENT_BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";

const HUMAN_IPS: [&str; 6] = [
    "203.0.113.24",
    "198.51.100.7",
    "192.0.2.55",
    "203.0.113.190",
    "198.51.100.211",
    "81.2.69.142",
];

/// Who made a call.
#[derive(Clone, Copy)]
enum Who {
    User(&'static str),
    Role(&'static Role, usize),
    Service(&'static str),
    Root { invoked_by: Option<&'static str> },
}

/// A stable, AWS-looking id: `prefix` and `n` characters derived from `key`.
fn stable_id(out: &mut String, prefix: &str, key: &[&str], n: usize) {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for part in key {
        for b in part.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
    }
    let mut r = Rng::new(h);
    out.push_str(prefix);
    r.chars(out, UPPER_DIGITS, n);
}

fn write_time(out: &mut String, epoch: u64) {
    let (y, m, d) = civil(epoch / 86_400);
    let s = epoch % 86_400;
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

/// `YYYY-MM-DD` of a day count since the epoch (Howard Hinnant's algorithm).
pub fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since the epoch of a date.
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Mar 1, 2024, 2:05:09 PM`, as IAM and STS write dates in responses.
fn write_human_time(out: &mut String, epoch: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil(epoch / 86_400);
    let s = epoch % 86_400;
    let (h, pm) = ((s / 3600) % 12, s / 3600 >= 12);
    let _ = write!(
        out,
        "{} {d}, {y}, {}:{:02}:{:02} {}",
        MONTHS[(m - 1) as usize],
        if h == 0 { 12 } else { h },
        s / 60 % 60,
        s % 60,
        if pm { "PM" } else { "AM" }
    );
}

fn obj(f: impl FnOnce(&mut Obj)) -> String {
    let mut s = String::with_capacity(256);
    let mut o = Obj::new(&mut s);
    f(&mut o);
    o.end();
    s
}

// The record ---------------------------------------------------------------

/// Everything a record says besides its envelope.
struct Call {
    who: Who,
    source: &'static str,
    name: &'static str,
    read_only: bool,
    agent: Option<&'static str>,
    error: Option<(&'static str, String)>,
    /// JSON text; `None` writes `null`.
    request: Option<String>,
    response: Option<String>,
    additional: Option<String>,
    resources: Option<String>,
    event_type: &'static str,
    data_event: bool,
    console: bool,
}

impl Call {
    fn new(who: Who, source: &'static str, name: &'static str, read_only: bool) -> Self {
        Call {
            who,
            source,
            name,
            read_only,
            agent: None,
            error: None,
            request: None,
            response: None,
            additional: None,
            resources: None,
            event_type: "AwsApiCall",
            data_event: false,
            console: false,
        }
    }
    fn request(mut self, json: String) -> Self {
        self.request = Some(json);
        self
    }
    fn response(mut self, json: String) -> Self {
        self.response = Some(json);
        self
    }
    fn additional(mut self, json: String) -> Self {
        self.additional = Some(json);
        self
    }
    fn resources(mut self, json: String) -> Self {
        self.resources = Some(json);
        self
    }
    fn error(mut self, code: &'static str, message: String) -> Self {
        self.error = Some((code, message));
        self
    }
    fn agent(mut self, agent: &'static str) -> Self {
        self.agent = Some(agent);
        self
    }

    fn write(self, ctx: &mut Ctx, out: &mut String) {
        let account = ctx.account;
        let rng = &mut *ctx.rng;
        let hour = (ctx.time / 3600).to_string();
        let mut o = Obj::new(out);
        o.str("eventVersion", rng.pick(&["1.08", "1.09", "1.10"]));
        let mut agent = self.agent;
        let mut ip: Option<String> = None;
        o.obj("userIdentity", |u| match self.who {
            Who::User(name) => {
                u.str("type", "IAMUser")
                    .str_with("principalId", |s| {
                        stable_id(s, "AIDA", &[account, name], 17)
                    })
                    .str_with("arn", |s| {
                        let _ = write!(s, "arn:aws:iam::{account}:user/{name}");
                    })
                    .str("accountId", account)
                    .str_with("accessKeyId", |s| {
                        if self.console {
                            stable_id(s, "ASIA", &[account, name, &hour], 16);
                        } else {
                            stable_id(s, "AKIA", &[account, name, "key"], 16)
                        }
                    })
                    .str("userName", name);
                if self.console {
                    u.obj("sessionContext", |c| {
                        c.obj("sessionIssuer", |_| {})
                            .obj("webIdFederationData", |_| {})
                            .obj("attributes", |a| {
                                a.str_with("creationDate", |s| {
                                    write_time(s, ctx.time.saturating_sub(rng.below(7200)))
                                })
                                .str("mfaAuthenticated", "true");
                            });
                    });
                }
                agent.get_or_insert(if self.console {
                    AGENT_CONSOLE
                } else {
                    rng.pick(&[AGENT_CLI, AGENT_BOTO, AGENT_TERRAFORM])
                });
                ip = Some((rng.pick(&HUMAN_IPS)).to_owned());
            }
            Who::Role(role, session) => {
                let session = role.sessions[session % role.sessions.len()];
                u.str("type", "AssumedRole")
                    .str_with("principalId", |s| {
                        stable_id(s, "AROA", &[account, role.name], 17);
                        s.push(':');
                        s.push_str(session);
                    })
                    .str_with("arn", |s| {
                        let _ = write!(
                            s,
                            "arn:aws:sts::{account}:assumed-role/{}/{session}",
                            role.name
                        );
                    })
                    .str("accountId", account)
                    .str_with("accessKeyId", |s| {
                        // One session, one key: a role's calls within the
                        // hour share it, as real sessions do.
                        stable_id(s, "ASIA", &[account, role.name, session, &hour], 16)
                    })
                    .obj("sessionContext", |c| {
                        c.obj("sessionIssuer", |i| {
                            i.str("type", "Role")
                                .str_with("principalId", |s| {
                                    stable_id(s, "AROA", &[account, role.name], 17)
                                })
                                .str_with("arn", |s| {
                                    let _ = write!(
                                        s,
                                        "arn:aws:iam::{account}:role{}{}",
                                        role.path, role.name
                                    );
                                })
                                .str("accountId", account)
                                .str("userName", role.name);
                        })
                        .obj("webIdFederationData", |_| {})
                        .obj("attributes", |a| {
                            a.str_with("creationDate", |s| {
                                write_time(s, ctx.time.saturating_sub(rng.below(3600)))
                            })
                            .str("mfaAuthenticated", "false");
                        });
                    });
                let config = role.path.starts_with("/aws-service-role/");
                if config {
                    u.str("invokedBy", "config.amazonaws.com");
                    ip = Some("config.amazonaws.com".into());
                }
                agent.get_or_insert(rng.pick(role.agents));
                if ip.is_none() {
                    ip = Some(if role.path.starts_with("/aws-reserved/") {
                        (rng.pick(&HUMAN_IPS)).to_owned()
                    } else {
                        format!(
                            "{}.{}.{}.{}",
                            rng.pick(&[3u64, 18, 34, 52, 54]),
                            rng.below(256),
                            rng.below(256),
                            rng.range(1, 254)
                        )
                    });
                }
            }
            Who::Service(service) => {
                u.str("type", "AWSService").str("invokedBy", service);
                agent.get_or_insert(service);
                ip = Some(service.to_owned());
            }
            Who::Root { invoked_by } => {
                u.str("type", "Root")
                    .str("principalId", account)
                    .str_with("arn", |s| {
                        let _ = write!(s, "arn:aws:iam::{account}:root");
                    })
                    .str("accountId", account)
                    .str_with("accessKeyId", |s| {
                        if !self.console {
                            s.push_str("ASIA");
                            rng.chars(s, UPPER_DIGITS, 16);
                        }
                    });
                if !self.console {
                    u.obj("sessionContext", |c| {
                        c.obj("attributes", |a| {
                            a.str_with("creationDate", |s| {
                                write_time(s, ctx.time.saturating_sub(rng.below(1800)))
                            })
                            .str("mfaAuthenticated", "true");
                        });
                    });
                }
                if let Some(by) = invoked_by {
                    u.str("invokedBy", by);
                }
                agent.get_or_insert(AGENT_CONSOLE);
                ip = Some(
                    invoked_by.map_or_else(|| (rng.pick(&HUMAN_IPS)).to_owned(), String::from),
                );
            }
        });
        o.str_with("eventTime", |s| write_time(s, ctx.time))
            .str("eventSource", self.source)
            .str("eventName", self.name)
            .str("awsRegion", ctx.region)
            .str("sourceIPAddress", ip.as_deref().unwrap_or("AWS Internal"))
            .str("userAgent", agent.unwrap_or(AGENT_CONSOLE));
        if let Some((code, message)) = &self.error {
            if !code.is_empty() {
                o.str("errorCode", code);
            }
            o.str("errorMessage", message);
        }
        match &self.request {
            Some(r) => o.raw("requestParameters", r),
            None => o.null("requestParameters"),
        };
        match &self.response {
            Some(r) => o.raw("responseElements", r),
            None => o.null("responseElements"),
        };
        if let Some(a) = &self.additional {
            o.raw("additionalEventData", a);
        }
        if self.event_type != "AwsConsoleSignIn" {
            o.str_with("requestID", |s| ctx.rng.uuid(s));
        }
        o.str_with("eventID", |s| ctx.rng.uuid(s))
            .bool("readOnly", self.read_only);
        if let Some(r) = &self.resources {
            o.raw("resources", r);
        }
        o.str("eventType", self.event_type)
            .bool("managementEvent", !self.data_event)
            .str("recipientAccountId", account);
        if matches!(self.who, Who::Service(_)) && ctx.rng.chance(0.3) {
            o.str_with("sharedEventID", |s| ctx.rng.uuid(s));
        }
        o.str(
            "eventCategory",
            if self.data_event {
                "Data"
            } else {
                "Management"
            },
        );
        if self.event_type == "AwsApiCall" && !matches!(self.who, Who::Service(_)) {
            let region = ctx.region;
            let source = self.source;
            o.obj("tlsDetails", |t| {
                t.str("tlsVersion", "TLSv1.3")
                    .str("cipherSuite", "TLS_AES_128_GCM_SHA256")
                    .str_with("clientProvidedHostHeader", |s| {
                        let host = source.trim_end_matches(".amazonaws.com");
                        if host == "iam" || host == "signin" {
                            let _ = write!(s, "{host}.amazonaws.com");
                        } else {
                            let _ = write!(s, "{host}.{region}.amazonaws.com");
                        }
                    });
            });
        }
        if self.console && !matches!(self.who, Who::Root { .. }) {
            o.str("sessionCredentialFromConsole", "true");
        }
        o.end();
    }
}

fn arn_resource(account: &str, kind: &str, arn: String) -> String {
    let mut s = String::new();
    let mut a = Arr::new(&mut s);
    a.obj(|o| {
        o.str("accountId", account)
            .str("type", kind)
            .str("ARN", &arn);
    });
    a.end();
    s
}

// Background noise -----------------------------------------------------------

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

fn ec2_describe(ctx: &mut Ctx) -> Call {
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

fn kms(ctx: &mut Ctx) -> Call {
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

fn sts(ctx: &mut Ctx) -> Call {
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

fn s3(ctx: &mut Ctx) -> Call {
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

fn iam_read(ctx: &mut Ctx) -> Call {
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

fn ssm(ctx: &mut Ctx) -> Call {
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

fn logs(ctx: &mut Ctx) -> Call {
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

fn cloudwatch(ctx: &mut Ctx) -> Call {
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

fn lambda(ctx: &mut Ctx) -> Call {
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

fn dynamodb(ctx: &mut Ctx) -> Call {
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

fn ecr(ctx: &mut Ctx) -> Call {
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

fn elb(ctx: &mut Ctx) -> Call {
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

fn security_reads(ctx: &mut Ctx) -> Call {
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

fn cloudtrail_reads(ctx: &mut Ctx) -> Call {
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

fn console_login(who: Who, result: &str, mfa: &str, saml: bool) -> Call {
    let response = obj(|o| {
        o.str("ConsoleLogin", result);
    });
    let additional = obj(|o| {
        o.str(
            "LoginTo",
            "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_c63b1f0b3a1e2f4d",
        )
        .str("MobileVersion", "No")
        .str("MFAUsed", mfa);
        if mfa == "Yes" {
            o.str("MfaType", "Virtual MFA");
        }
        if saml {
            o.str(
                "SamlProviderArn",
                "arn:aws:iam::111122223333:saml-provider/okta",
            );
        }
    });
    let mut call = Call::new(who, SIGNIN, "ConsoleLogin", false)
        .agent(AGENT_BROWSER)
        .response(response)
        .additional(additional);
    if result == "Failure" {
        call.error = Some(("", "Failed authentication".into()));
    }
    call.event_type = "AwsConsoleSignIn";
    call.console = true;
    call
}

fn console_login_with_mfa(ctx: &mut Ctx) -> Call {
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

fn ec2_write(ctx: &mut Ctx) -> Call {
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

const POLICY_S3_READ: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"ReadArtifacts\",\n      \"Effect\": \"Allow\",\n      \"Action\": [\"s3:GetObject\", \"s3:ListBucket\"],\n      \"Resource\": [\"arn:aws:s3:::artifacts-111122223333\", \"arn:aws:s3:::artifacts-111122223333/*\"]\n    }\n  ]\n}";
const POLICY_ADMIN: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}";
const POLICY_ADMIN_PRETTY: &str = "{\n\t\"Version\": \"2012-10-17\",\n\t\"Statement\": [\n\t\t{\n\t\t\t\"Sid\": \"BreakGlass\",\n\t\t\t\"Effect\": \"Allow\",\n\t\t\t\"Action\": [\"*:*\"],\n\t\t\t\"Resource\": [\"*\"]\n\t\t}\n\t]\n}";
const POLICY_QUARANTINE: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":[\"iam:AttachUserPolicy\",\"iam:CreateAccessKey\",\"iam:CreateLoginProfile\",\"iam:PutUserPolicy\",\"ec2:RunInstances\",\"lambda:CreateFunction\"],\"Resource\":[\"*\"]}]}";
const TRUST_LAMBDA: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";

fn iam_benign_write(ctx: &mut Ctx) -> Call {
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

fn denied(ctx: &mut Ctx) -> Call {
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

fn service_event(ctx: &mut Ctx) -> Call {
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

// Near misses ----------------------------------------------------------------

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

// Violations -----------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_print_like_cloudtrail() {
        let day = days_from_civil(2024, 2, 29);
        assert_eq!(civil(day), (2024, 2, 29));
        let mut s = String::new();
        write_time(&mut s, day * 86_400 + 13 * 3600 + 5 * 60 + 9);
        assert_eq!(s, "2024-02-29T13:05:09Z");
        s.clear();
        write_human_time(&mut s, day * 86_400 + 13 * 3600 + 5 * 60 + 9);
        assert_eq!(s, "Feb 29, 2024, 1:05:09 PM");
    }

    #[test]
    fn every_writer_produces_a_valid_object() {
        let mut rng = Rng::new(3);
        for region in [GLOBAL_REGION, "eu-west-1"] {
            for i in 0..2000u64 {
                let mut ctx = Ctx {
                    rng: &mut rng,
                    account: ACCOUNTS[0].id,
                    region,
                    time: 1_709_251_200 + i,
                };
                let mut out = String::new();
                match i % 3 {
                    0 => background(&mut ctx, &mut out),
                    1 => near_miss(&mut ctx, &mut out),
                    _ => {
                        violation(&mut ctx, i % VIOLATION_KINDS, &mut out);
                    }
                }
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert!(v["eventName"].is_string(), "{out}");
            }
        }
    }
}
