//! Just enough CloudFormation to check a template offline: YAML with short
//! tags (`!Ref`, `!Sub`, ...) read into the long JSON form, and the
//! intrinsic functions and conditions evaluated for given parameter values.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

/// Values the pseudo parameters and resource attributes take in the tests.
pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const STACK: &str = "trailguard";
/// The execution role's ARN as CloudFormation would name it: the longest
/// role name (64 characters), to check the pattern's size at its worst.
pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/trailguard-FunctionRole-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh";

/// Reads a CloudFormation YAML template into JSON, short tags expanded.
pub fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("`{}` is not valid YAML: {e}", path.display()));
    to_json(yaml)
}

fn to_json(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).expect("a YAML number is a JSON number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .expect("a YAML key serialises")
                            .trim()
                            .to_owned(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = to_json(tagged.value);
            match name {
                "Ref" => json!({ "Ref": value }),
                "Condition" => json!({ "Condition": value }),
                // `!GetAtt Res.Attr` is the short form of `[Res, Attr]`.
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (res, attr) = s
                            .split_once('.')
                            .unwrap_or_else(|| panic!("`!GetAtt {s}` has no attribute"));
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

/// The partition of a region and its URL suffix (`AWS::URLSuffix`).
pub fn partition_of(region: &str) -> (&'static str, &'static str) {
    if region.starts_with("cn-") {
        ("aws-cn", "amazonaws.com.cn")
    } else if region.starts_with("us-gov-") {
        ("aws-us-gov", "amazonaws.com")
    } else {
        ("aws", "amazonaws.com")
    }
}

/// A template with parameter values: resolves intrinsic functions.
pub struct Stack<'t> {
    pub template: &'t Value,
    params: BTreeMap<String, String>,
    conditions: BTreeMap<String, bool>,
    region: String,
}

impl<'t> Stack<'t> {
    /// The template deployed in [`REGION`] with its defaults, `overrides`
    /// applied on top.
    pub fn new(template: &'t Value, overrides: &[(&str, &str)]) -> Self {
        Stack::in_region(template, overrides, REGION)
    }

    /// The same, deployed in `region` (and so in its partition).
    pub fn in_region(template: &'t Value, overrides: &[(&str, &str)], region: &str) -> Self {
        let mut params = BTreeMap::new();
        if let Some(declared) = template["Parameters"].as_object() {
            for (name, decl) in declared {
                let default = match &decl["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => String::new(),
                    other => panic!("parameter {name} has an odd default {other}"),
                };
                params.insert(name.clone(), default);
            }
        }
        for (name, value) in overrides {
            assert!(
                params.contains_key(*name),
                "the template has no parameter {name}"
            );
            params.insert((*name).to_owned(), (*value).to_owned());
        }
        let mut stack = Stack {
            template,
            params,
            conditions: BTreeMap::new(),
            region: region.to_owned(),
        };
        if let Some(conditions) = template["Conditions"].as_object() {
            // Conditions may refer to one another; evaluate until stable.
            for _ in 0..conditions.len() {
                for (name, expr) in conditions {
                    if let Some(v) = stack.try_condition(expr) {
                        stack.conditions.insert(name.clone(), v);
                    }
                }
            }
            for name in conditions.keys() {
                assert!(
                    stack.conditions.contains_key(name),
                    "condition {name} cannot be evaluated"
                );
            }
        }
        stack
    }

    pub fn param(&self, name: &str) -> &str {
        &self.params[name]
    }

    /// `AWS::Partition` of the stack.
    pub fn partition(&self) -> &'static str {
        partition_of(&self.region).0
    }

    /// The names of the template's `Rules` whose assertions fail here:
    /// CloudFormation refuses to create or update the stack.
    pub fn failed_rules(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for (name, rule) in self.template["Rules"].as_object().into_iter().flatten() {
            if !rule["RuleCondition"].is_null() {
                let applies = self
                    .try_condition(&rule["RuleCondition"])
                    .unwrap_or_else(|| panic!("rule {name}: RuleCondition cannot be evaluated"));
                if !applies {
                    continue;
                }
            }
            for assertion in rule["Assertions"].as_array().expect("Assertions") {
                let holds = self
                    .try_condition(&assertion["Assert"])
                    .unwrap_or_else(|| panic!("rule {name}: Assert cannot be evaluated"));
                if !holds {
                    failed.push(name.clone());
                }
            }
        }
        failed
    }

    pub fn condition(&self, name: &str) -> bool {
        *self
            .conditions
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"))
    }

    /// Is the resource created in this stack?
    pub fn creates(&self, resource: &Value) -> bool {
        resource["Condition"]
            .as_str()
            .is_none_or(|c| self.condition(c))
    }

    /// The resources that are created, by logical id.
    pub fn resources(&self) -> impl Iterator<Item = (&'t str, &'t Value)> + '_ {
        self.template["Resources"]
            .as_object()
            .expect("the template has Resources")
            .iter()
            .filter(|(_, r)| self.creates(r))
            .map(|(id, r)| (id.as_str(), r))
    }

    fn try_condition(&self, expr: &Value) -> Option<bool> {
        let obj = expr.as_object()?;
        let (f, args) = obj.iter().next()?;
        Some(match f.as_str() {
            "Fn::Equals" => {
                let a = self.resolve(&args[0])?;
                let b = self.resolve(&args[1])?;
                a == b
            }
            "Fn::Not" => !self.try_condition(&args[0])?,
            // Rules only: is the value one of the list's?
            "Fn::Contains" => {
                let list = self.resolve(&args[0])?;
                let value = self.resolve(&args[1])?;
                list.as_array()?.contains(&value)
            }
            "Fn::And" => {
                let all: Option<Vec<bool>> = args
                    .as_array()?
                    .iter()
                    .map(|a| self.try_condition(a))
                    .collect();
                all?.into_iter().all(|b| b)
            }
            "Fn::Or" => {
                let all: Option<Vec<bool>> = args
                    .as_array()?
                    .iter()
                    .map(|a| self.try_condition(a))
                    .collect();
                all?.into_iter().any(|b| b)
            }
            "Condition" => *self.conditions.get(args.as_str()?)?,
            _ => return None,
        })
    }

    /// Evaluates the intrinsic functions in `value`. `None` is
    /// `AWS::NoValue`: the property or list item is left out.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|v| self.resolve(v)).collect(),
            )),
            Value::Object(obj) if obj.len() == 1 => {
                let (key, arg) = obj.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(arg.as_str().expect("Ref names a string")),
                    "Fn::GetAtt" => Some(Value::String(self.attribute(
                        arg[0].as_str().expect("GetAtt resource"),
                        arg[1].as_str().expect("GetAtt attribute"),
                    ))),
                    "Fn::Sub" => Some(Value::String(self.sub(arg))),
                    "Fn::Join" => {
                        let sep = arg[0].as_str().expect("Join separator");
                        let parts = self.resolve(&arg[1])?;
                        let parts: Vec<String> = parts
                            .as_array()
                            .expect("Join takes a list")
                            .iter()
                            .map(|p| p.as_str().expect("Join joins strings").to_owned())
                            .collect();
                        Some(Value::String(parts.join(sep)))
                    }
                    "Fn::If" => {
                        let cond = arg[0].as_str().expect("If names a condition");
                        let branch = if self.condition(cond) {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.resolve(branch)
                    }
                    "Fn::Select" => {
                        let i = arg[0].as_u64().expect("Select index") as usize;
                        let list = self.resolve(&arg[1])?;
                        let item = list.as_array().expect("Select takes a list").get(i);
                        // What CloudFormation answers, failing the deployment.
                        let item = item.unwrap_or_else(|| {
                            panic!("Template error: Fn::Select cannot select nonexistent value at index {i}")
                        });
                        Some(item.clone())
                    }
                    "Fn::FindInMap" => {
                        let map = arg[0].as_str().expect("FindInMap map name");
                        let key = self.resolve(&arg[1])?;
                        let key = key.as_str().expect("FindInMap key is a string");
                        let field = arg[2].as_str().expect("FindInMap second key");
                        let found = &self.template["Mappings"][map][key][field];
                        assert!(!found.is_null(), "no Mappings.{map}.{key}.{field}");
                        Some(found.clone())
                    }
                    "Fn::Split" => {
                        let sep = arg[0].as_str().expect("Split delimiter is a literal");
                        let text = self.resolve(&arg[1])?;
                        let text = text.as_str().expect("Split splits a string");
                        Some(Value::Array(
                            text.split(sep).map(|p| Value::String(p.into())).collect(),
                        ))
                    }
                    k if k.starts_with("Fn::") => panic!("`{k}` is not supported by the test"),
                    _ => Some(Value::Object(self.resolve_map(obj))),
                }
            }
            Value::Object(obj) => Some(Value::Object(self.resolve_map(obj))),
            other => Some(other.clone()),
        }
    }

    fn resolve_map(&self, obj: &Map<String, Value>) -> Map<String, Value> {
        obj.iter()
            .filter_map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
            .collect()
    }

    fn reference(&self, name: &str) -> Option<Value> {
        let region = self.region.as_str();
        let (partition, suffix) = partition_of(region);
        Some(Value::String(match name {
            "AWS::NoValue" => return None,
            "AWS::AccountId" => ACCOUNT.into(),
            "AWS::Region" => region.into(),
            "AWS::Partition" => partition.into(),
            "AWS::StackName" => STACK.into(),
            "AWS::URLSuffix" => suffix.into(),
            _ => match self.params.get(name) {
                Some(v) => v.clone(),
                None => {
                    let decl = &self.template["Resources"][name];
                    assert!(decl.is_object(), "Ref to unknown `{name}`");
                    // What Ref returns for the types whose value is read.
                    match decl["Type"].as_str() {
                        Some("AWS::SNS::Topic") => {
                            format!("arn:{partition}:sns:{region}:{ACCOUNT}:{STACK}-{name}")
                        }
                        // CloudFormation names a table after the stack.
                        Some("AWS::DynamoDB::Table") => format!("{STACK}-{name}-1A2B3C4D5E6F"),
                        Some("AWS::SQS::Queue") => {
                            format!("https://sqs.{region}.{suffix}/{ACCOUNT}/{STACK}-{name}")
                        }
                        _ => format!("ref:{name}"),
                    }
                }
            },
        }))
    }

    fn attribute(&self, resource: &str, attr: &str) -> String {
        let decl = &self.template["Resources"][resource];
        assert!(decl.is_object(), "GetAtt of unknown resource `{resource}`");
        match (decl["Type"].as_str(), attr) {
            (Some("AWS::IAM::Role"), "Arn") => {
                ROLE_ARN.replacen("arn:aws:", &format!("arn:{}:", self.partition()), 1)
            }
            _ => format!("arn:test:{resource}.{attr}"),
        }
    }

    fn sub(&self, arg: &Value) -> String {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) => (
                a[0].as_str().expect("Sub string"),
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            other => panic!("odd Fn::Sub {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                out.push_str("${");
                rest = literal;
                continue;
            }
            let end = after.find('}').expect("an unclosed ${ in Fn::Sub");
            let name = &after[..end];
            let value = if let Some(v) = vars.get(name) {
                self.resolve(v)
                    .and_then(|v| v.as_str().map(String::from))
                    .expect("a Sub variable is a string")
            } else if let Some((res, attr)) = name.split_once('.') {
                self.attribute(res, attr)
            } else {
                self.reference(name)
                    .and_then(|v| v.as_str().map(String::from))
                    .expect("a Sub reference is a string")
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// A string or a list of strings, as IAM policies and patterns allow.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .unwrap_or_else(|| panic!("expected a string, got {i}"))
                    .to_owned()
            })
            .collect(),
        Value::Null => Vec::new(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}
