//! The policy document generated from an [`Activity`]: one statement per
//! service and access level (split further only where their actions name
//! different resources), actions sorted, deterministic, within IAM's size
//! limit for managed policies.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::activity::Activity;
use super::table::{AccessLevel, ActionTable};

/// IAM's limit on a managed policy: characters without whitespace.
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// One `Allow` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    #[serde(rename = "Resource")]
    pub resource: Vec<String>,
}

/// The generated document and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub document: PolicyDocument,
    /// Statements granting on `*`, each with why (`s3:ListAllMyBuckets`...).
    pub unscoped: Vec<String>,
    /// What was merged to fit the size limit, in the order done.
    pub merged: Vec<String>,
    /// Characters without whitespace.
    pub size: usize,
}

impl PolicyDocument {
    /// The document as IAM counts it: compact JSON.
    pub fn compact(&self) -> String {
        serde_json::to_string(self).expect("documents serialize")
    }
}

/// The statement id word of a service prefix: `s3` → `S3`, `access-analyzer`
/// → `AccessAnalyzer` (IAM allows only letters and digits).
fn sid_service(service: &str) -> String {
    service
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One group of the document before it is written: service, level, and
/// the actions with the resources they share.
#[derive(Debug, Clone)]
struct Group {
    service: String,
    level: AccessLevel,
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
}

/// Builds the document; merges to wildcards within a service, largest
/// first, while it would pass IAM's size limit, and says so in `merged`.
pub fn generate(activity: &Activity, table: &ActionTable) -> Generated {
    // Group actions by (service, level, resources): the same resource set
    // shares a statement.
    let mut groups: BTreeMap<(String, AccessLevel, Vec<String>), BTreeSet<String>> =
        BTreeMap::new();
    let mut unscoped = Vec::new();
    for (name, used) in &activity.actions {
        let Some(action) = table.lookup(name) else {
            continue;
        };
        let resources: Vec<String> = if used.any_resource || used.resources.is_empty() {
            unscoped.push(name.clone());
            vec!["*".into()]
        } else {
            used.resources.iter().cloned().collect()
        };
        groups
            .entry((action.service.clone(), action.level, resources))
            .or_default()
            .insert(action.full_name());
    }
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|((service, level, resources), actions)| Group {
            service,
            level,
            actions,
            resources: resources.into_iter().collect(),
        })
        .collect();
    let mut merged = Vec::new();
    let mut document = write(&groups);
    if document.compact().len() > MANAGED_POLICY_MAX_CHARS {
        for service in services_largest_first(&groups) {
            let n = merge_verbs(&mut groups, &service);
            if n > 0 {
                merged.push(format!(
                    "{service}: {n} actions merged to wildcards by verb (`{service}:Get*`...)"
                ));
                document = write(&groups);
                if document.compact().len() <= MANAGED_POLICY_MAX_CHARS {
                    break;
                }
            }
        }
    }
    if document.compact().len() > MANAGED_POLICY_MAX_CHARS {
        for service in services_largest_first(&groups) {
            if merge_resources(&mut groups, &service) {
                merged.push(format!("{service}: resources merged to `*`"));
                document = write(&groups);
                if document.compact().len() <= MANAGED_POLICY_MAX_CHARS {
                    break;
                }
            }
        }
    }
    let size = document.compact().len();
    if size > MANAGED_POLICY_MAX_CHARS {
        merged.push(format!(
            "still {size} characters after merging, over IAM's {MANAGED_POLICY_MAX_CHARS}: split it into several policies"
        ));
    }
    Generated {
        document,
        unscoped,
        merged,
        size,
    }
}

/// The services by how many characters their statements take, most first.
fn services_largest_first(groups: &[Group]) -> Vec<String> {
    let mut size: BTreeMap<&str, usize> = BTreeMap::new();
    for g in groups {
        *size.entry(&g.service).or_default() += g
            .actions
            .iter()
            .chain(&g.resources)
            .map(|s| s.len() + 3)
            .sum::<usize>();
    }
    let mut services: Vec<(&str, usize)> = size.into_iter().collect();
    services.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    services.into_iter().map(|(s, _)| s.to_owned()).collect()
}

/// The verb an action name starts with: `GetObjectAcl` → `Get`.
fn verb(name: &str) -> &str {
    let rest = name.split_once(':').map_or(name, |(_, n)| n);
    let end = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_uppercase())
        .map_or(rest.len(), |(i, _)| i);
    &rest[..end]
}

/// Replaces, in each statement of `service`, the actions that share a verb
/// with `service:Verb*`. Answers how many actions went into wildcards.
fn merge_verbs(groups: &mut [Group], service: &str) -> usize {
    let mut n = 0;
    for g in groups.iter_mut().filter(|g| g.service == service) {
        let mut by_verb: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for a in &g.actions {
            if a.ends_with('*') {
                by_verb.entry(a.clone()).or_default().push(a.clone());
            } else {
                by_verb
                    .entry(verb(a).to_owned())
                    .or_default()
                    .push(a.clone());
            }
        }
        let mut actions = BTreeSet::new();
        for (v, names) in by_verb {
            if names.len() > 1 {
                n += names.len();
                actions.insert(format!("{service}:{v}*"));
            } else {
                actions.extend(names);
            }
        }
        g.actions = actions;
    }
    n
}

/// Grants every statement of `service` on `*` and joins those that then
/// share a level. Answers whether anything changed.
fn merge_resources(groups: &mut Vec<Group>, service: &str) -> bool {
    let mut changed = false;
    let mut joined: BTreeMap<AccessLevel, BTreeSet<String>> = BTreeMap::new();
    groups.retain(|g| {
        if g.service != service {
            return true;
        }
        changed |= g.resources.iter().any(|r| r != "*");
        joined.entry(g.level).or_default().extend(g.actions.clone());
        false
    });
    for (level, actions) in joined {
        groups.push(Group {
            service: service.to_owned(),
            level,
            actions,
            resources: ["*".to_owned()].into(),
        });
    }
    groups.sort_by(|a, b| {
        (&a.service, a.level, &a.resources).cmp(&(&b.service, b.level, &b.resources))
    });
    changed
}

/// Writes the groups as statements, ids unique (`S3Read`, `S3Read2`).
fn write(groups: &[Group]) -> PolicyDocument {
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let statement = groups
        .iter()
        .map(|g| {
            let base = format!("{}{}", sid_service(&g.service), g.level.sid_word());
            let n = ids.entry(base.clone()).or_default();
            *n += 1;
            Statement {
                sid: if *n == 1 { base } else { format!("{base}{n}") },
                effect: "Allow".into(),
                action: g.actions.iter().cloned().collect(),
                resource: g.resources.iter().cloned().collect(),
            }
        })
        .collect();
    PolicyDocument {
        version: "2012-10-17".into(),
        statement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::activity::ActionUse;

    fn used(resources: &[&str]) -> ActionUse {
        ActionUse {
            resources: resources.iter().map(|r| r.to_string()).collect(),
            any_resource: resources.is_empty(),
            ..ActionUse::default()
        }
    }

    #[test]
    fn one_statement_per_service_and_level_actions_sorted() {
        let mut a = Activity::default();
        a.actions
            .insert("s3:PutObject".into(), used(&["arn:aws:s3:::b/*"]));
        a.actions
            .insert("s3:GetObject".into(), used(&["arn:aws:s3:::b/*"]));
        a.actions.insert("s3:ListAllMyBuckets".into(), used(&[]));
        a.actions.insert("sts:AssumeRole".into(), used(&[]));
        let g = generate(&a, ActionTable::embedded());
        assert_eq!(
            g.document.compact(),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"S3Write","Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::b/*"]},{"Sid":"S3Read","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]},{"Sid":"S3List","Effect":"Allow","Action":["s3:ListAllMyBuckets"],"Resource":["*"]},{"Sid":"StsWrite","Effect":"Allow","Action":["sts:AssumeRole"],"Resource":["*"]}]}"#
        );
        assert_eq!(g.unscoped, ["s3:ListAllMyBuckets", "sts:AssumeRole"]);
        assert!(g.merged.is_empty());
    }

    #[test]
    fn different_resources_split_a_level_with_unique_ids() {
        let mut a = Activity::default();
        a.actions
            .insert("s3:GetObject".into(), used(&["arn:aws:s3:::b/*"]));
        a.actions
            .insert("s3:GetBucketTagging".into(), used(&["arn:aws:s3:::b"]));
        let g = generate(&a, ActionTable::embedded());
        let sids: Vec<&str> = g
            .document
            .statement
            .iter()
            .map(|s| s.sid.as_str())
            .collect();
        assert_eq!(sids, ["S3Read", "S3Read2"]);
    }

    #[test]
    fn a_document_over_the_size_limit_is_merged_by_verb() {
        let t = ActionTable::embedded();
        let mut a = Activity::default();
        for action in t
            .expand("ec2:Describe*")
            .into_iter()
            .chain(t.expand("ec2:Get*"))
        {
            a.actions.insert(action.full_name(), used(&[]));
        }
        let unmerged: usize = a.actions.keys().map(|k| k.len() + 3).sum();
        assert!(unmerged > MANAGED_POLICY_MAX_CHARS, "{unmerged}");
        let g = generate(&a, t);
        assert!(g.size <= MANAGED_POLICY_MAX_CHARS, "{}", g.size);
        assert_eq!(g.size, g.document.compact().len());
        let actions: Vec<&str> = g
            .document
            .statement
            .iter()
            .flat_map(|s| s.action.iter().map(String::as_str))
            .collect();
        assert!(actions.contains(&"ec2:Describe*"), "{actions:?}");
        assert!(actions.contains(&"ec2:Get*"), "{actions:?}");
        assert_eq!(g.merged.len(), 1, "{:?}", g.merged);
        assert!(g.merged[0].starts_with("ec2: "), "{:?}", g.merged);
    }

    #[test]
    fn verbs_are_the_leading_word() {
        assert_eq!(verb("s3:GetObjectAcl"), "Get");
        assert_eq!(verb("ec2:DescribeInstances"), "Describe");
        assert_eq!(verb("s3:Get"), "Get");
        assert_eq!(sid_service("access-analyzer"), "AccessAnalyzer");
    }
}
