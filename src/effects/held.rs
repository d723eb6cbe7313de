//! The policies a principal holds, read through IAM for `trailguard policy
//! unused --live`: read-only calls only (the list is [`READ_PERMISSIONS`]).

use async_trait::async_trait;

use super::EffectError;
use super::aws::classify;

/// The IAM permissions [`AwsHeldPolicies`] needs: every call it makes.
pub const READ_PERMISSIONS: &[&str] = &[
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:ListGroupsForUser",
    "iam:ListAttachedGroupPolicies",
    "iam:ListGroupPolicies",
    "iam:GetGroupPolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
];

/// Who holds the policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    User(String),
    Role(String),
}

/// One policy document a principal holds, by where it comes from
/// (`attached:ARN`, `inline:NAME`, `group:G:attached:ARN`...). The document
/// is the text IAM answered (URL-encoded, as IAM sends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDocument {
    pub name: String,
    pub document: String,
}

/// Reads what a user or role holds: attached and inline policies, and for
/// a user its groups'.
#[async_trait]
pub trait HeldPolicies: Send + Sync {
    /// Every policy document `holder` holds.
    async fn held_policies(&self, holder: &Holder) -> Result<Vec<HeldDocument>, EffectError>;
}

/// [`HeldPolicies`] on the AWS SDK's IAM client.
#[derive(Debug, Clone)]
pub struct AwsHeldPolicies {
    client: aws_sdk_iam::Client,
}

impl AwsHeldPolicies {
    /// On an SDK config (the usual environment, `AWS_ENDPOINT_URL` included).
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        AwsHeldPolicies {
            client: aws_sdk_iam::Client::new(sdk),
        }
    }

    /// The default version's document of a managed policy.
    async fn managed(&self, arn: &str) -> Result<String, EffectError> {
        let policy = self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| classify("iam:GetPolicy", e))?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .unwrap_or("v1")
            .to_owned();
        let out = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(&version)
            .send()
            .await
            .map_err(|e| classify("iam:GetPolicyVersion", e))?;
        Ok(out
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default()
            .to_owned())
    }
}

/// Every item of every page, the failure classified as `$op`.
macro_rules! all_items {
    ($op:expr, $request:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify($op, e))
    };
}

#[async_trait]
impl HeldPolicies for AwsHeldPolicies {
    async fn held_policies(&self, holder: &Holder) -> Result<Vec<HeldDocument>, EffectError> {
        let c = &self.client;
        let mut out = Vec::new();
        let (attached, inline) = match holder {
            Holder::User(user) => {
                let attached = all_items!(
                    "iam:ListAttachedUserPolicies",
                    c.list_attached_user_policies().user_name(user)
                )?;
                let names = all_items!(
                    "iam:ListUserPolicies",
                    c.list_user_policies().user_name(user)
                )?;
                let mut inline = Vec::new();
                for name in names {
                    let doc = c
                        .get_user_policy()
                        .user_name(user)
                        .policy_name(&name)
                        .send()
                        .await
                        .map_err(|e| classify("iam:GetUserPolicy", e))?;
                    inline.push((name, doc.policy_document().to_owned()));
                }
                let groups = all_items!(
                    "iam:ListGroupsForUser",
                    c.list_groups_for_user().user_name(user)
                )?;
                for group in groups {
                    let g = group.group_name();
                    let attached = all_items!(
                        "iam:ListAttachedGroupPolicies",
                        c.list_attached_group_policies().group_name(g)
                    )?;
                    for p in attached {
                        let arn = p.policy_arn().unwrap_or_default();
                        out.push(HeldDocument {
                            name: format!("group:{g}:attached:{arn}"),
                            document: self.managed(arn).await?,
                        });
                    }
                    let names = all_items!(
                        "iam:ListGroupPolicies",
                        c.list_group_policies().group_name(g)
                    )?;
                    for name in names {
                        let doc = c
                            .get_group_policy()
                            .group_name(g)
                            .policy_name(&name)
                            .send()
                            .await
                            .map_err(|e| classify("iam:GetGroupPolicy", e))?;
                        out.push(HeldDocument {
                            name: format!("group:{g}:inline:{name}"),
                            document: doc.policy_document().to_owned(),
                        });
                    }
                }
                (attached, inline)
            }
            Holder::Role(role) => {
                let attached = all_items!(
                    "iam:ListAttachedRolePolicies",
                    c.list_attached_role_policies().role_name(role)
                )?;
                let names = all_items!(
                    "iam:ListRolePolicies",
                    c.list_role_policies().role_name(role)
                )?;
                let mut inline = Vec::new();
                for name in names {
                    let doc = c
                        .get_role_policy()
                        .role_name(role)
                        .policy_name(&name)
                        .send()
                        .await
                        .map_err(|e| classify("iam:GetRolePolicy", e))?;
                    inline.push((name, doc.policy_document().to_owned()));
                }
                (attached, inline)
            }
        };
        for p in attached {
            let arn = p.policy_arn().unwrap_or_default();
            out.insert(
                0,
                HeldDocument {
                    name: format!("attached:{arn}"),
                    document: self.managed(arn).await?,
                },
            );
        }
        for (name, document) in inline {
            out.push(HeldDocument {
                name: format!("inline:{name}"),
                document,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
