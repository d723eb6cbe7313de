//! One record: a call by someone, written out with CloudTrail's envelope,
//! and the console sign-in every kind of record uses.

use std::fmt::Write as _;

use crate::synth::json::{Arr, Obj};
use crate::synth::rng::UPPER_DIGITS;

use super::format::{obj, stable_id, write_time};
use super::principals::{
    AGENT_BOTO, AGENT_BROWSER, AGENT_CLI, AGENT_CONSOLE, AGENT_TERRAFORM, HUMAN_IPS, Who,
};
use super::{Ctx, SIGNIN};

/// Everything a record says besides its envelope.
pub(super) struct Call {
    who: Who,
    source: &'static str,
    name: &'static str,
    read_only: bool,
    pub(super) agent: Option<&'static str>,
    error: Option<(&'static str, String)>,
    /// JSON text; `None` writes `null`.
    pub(super) request: Option<String>,
    response: Option<String>,
    additional: Option<String>,
    resources: Option<String>,
    pub(super) event_type: &'static str,
    pub(super) data_event: bool,
    console: bool,
}

impl Call {
    pub(super) fn new(who: Who, source: &'static str, name: &'static str, read_only: bool) -> Self {
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
    pub(super) fn request(mut self, json: String) -> Self {
        self.request = Some(json);
        self
    }
    pub(super) fn response(mut self, json: String) -> Self {
        self.response = Some(json);
        self
    }
    pub(super) fn additional(mut self, json: String) -> Self {
        self.additional = Some(json);
        self
    }
    pub(super) fn resources(mut self, json: String) -> Self {
        self.resources = Some(json);
        self
    }
    pub(super) fn error(mut self, code: &'static str, message: String) -> Self {
        self.error = Some((code, message));
        self
    }
    pub(super) fn agent(mut self, agent: &'static str) -> Self {
        self.agent = Some(agent);
        self
    }

    pub(super) fn write(self, ctx: &mut Ctx, out: &mut String) {
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

pub(super) fn arn_resource(account: &str, kind: &str, arn: String) -> String {
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

pub(super) fn console_login(who: Who, result: &str, mfa: &str, saml: bool) -> Call {
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
