//! Policy documents the IAM calls carry, as JSON strings the way IAM's
//! requests hold them.

pub(super) const POLICY_S3_READ: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"ReadArtifacts\",\n      \"Effect\": \"Allow\",\n      \"Action\": [\"s3:GetObject\", \"s3:ListBucket\"],\n      \"Resource\": [\"arn:aws:s3:::artifacts-111122223333\", \"arn:aws:s3:::artifacts-111122223333/*\"]\n    }\n  ]\n}";

pub(super) const POLICY_ADMIN: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}";

pub(super) const POLICY_ADMIN_PRETTY: &str = "{\n\t\"Version\": \"2012-10-17\",\n\t\"Statement\": [\n\t\t{\n\t\t\t\"Sid\": \"BreakGlass\",\n\t\t\t\"Effect\": \"Allow\",\n\t\t\t\"Action\": [\"*:*\"],\n\t\t\t\"Resource\": [\"*\"]\n\t\t}\n\t]\n}";

pub(super) const POLICY_QUARANTINE: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":[\"iam:AttachUserPolicy\",\"iam:CreateAccessKey\",\"iam:CreateLoginProfile\",\"iam:PutUserPolicy\",\"ec2:RunInstances\",\"lambda:CreateFunction\"],\"Resource\":[\"*\"]}]}";

pub(super) const TRUST_LAMBDA: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}";
