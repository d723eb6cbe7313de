//! Who makes the calls: IAM users, roles and their sessions, services and
//! root, with the user agents and source addresses they call from.

pub(super) const USERS: [&str; 5] = [
    "alice",
    "bob",
    "ci-deploy",
    "legacy-etl",
    "monitoring-exporter",
];

pub(super) const HUMAN_USERS: [&str; 2] = ["alice", "bob"];

pub(super) const TARGET_USERS: [&str; 6] = [
    "bob",
    "contractor-jane",
    "svc-backup",
    "ci-deploy",
    "temp-audit",
    "legacy-etl",
];

pub(super) struct Role {
    pub(super) name: &'static str,
    pub(super) path: &'static str,
    pub(super) sessions: &'static [&'static str],
    pub(super) agents: &'static [&'static str],
}

pub(super) const SSO_ADMIN: Role = Role {
    name: "AWSReservedSSO_AdministratorAccess_5d8a1f2b3c4e6a7b",
    path: "/aws-reserved/sso.amazonaws.com/",
    sessions: &["alice@example.com", "carol@example.com"],
    agents: &[AGENT_CONSOLE, AGENT_CLI, AGENT_TERRAFORM],
};

pub(super) const SSO_READONLY: Role = Role {
    name: "AWSReservedSSO_ReadOnlyAccess_9b1c2d3e4f5a6b7c",
    path: "/aws-reserved/sso.amazonaws.com/",
    sessions: &["dave@example.com", "erin@example.com", "frank@example.com"],
    agents: &[AGENT_CONSOLE, AGENT_CLI],
};

pub(super) const APP_ROLE: Role = Role {
    name: "order-service-role",
    path: "/service-role/",
    sessions: &["order-service", "invoice-worker"],
    agents: &[AGENT_GO, AGENT_BOTO],
};

pub(super) const NODE_ROLE: Role = Role {
    name: "eks-node-group-role",
    path: "/",
    sessions: &[
        "i-0a1b2c3d4e5f6a7b8",
        "i-0c9d8e7f6a5b4c3d2",
        "i-07e6d5c4b3a291807",
    ],
    agents: &[AGENT_GO, AGENT_SSM],
};

pub(super) const CI_ROLE: Role = Role {
    name: "github-actions-deploy",
    path: "/ci/",
    sessions: &["GitHubActions"],
    agents: &[AGENT_TERRAFORM, AGENT_CLI],
};

pub(super) const AUDIT_ROLE: Role = Role {
    name: "SecurityAuditRole",
    path: "/",
    sessions: &["prowler-scan", "steampipe"],
    agents: &[AGENT_BOTO, AGENT_GO],
};

pub(super) const DATADOG_ROLE: Role = Role {
    name: "datadog-integration-role",
    path: "/",
    sessions: &["DatadogAWSIntegration"],
    agents: &[AGENT_DATADOG],
};

pub(super) const CONFIG_ROLE: Role = Role {
    name: "AWSServiceRoleForConfig",
    path: "/aws-service-role/config.amazonaws.com/",
    sessions: &["AWSConfig-Describe"],
    agents: &["config.amazonaws.com"],
};

pub(super) const AGENT_CONSOLE: &str = "AWS Internal";

pub(super) const AGENT_CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/sts.get-caller-identity";

pub(super) const AGENT_TERRAFORM: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0 md/GOOS#linux md/GOARCH#amd64";

const AGENT_GO: &str =
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.1";
pub(super) const AGENT_BOTO: &str = "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/1.34.51";
pub(super) const AGENT_SSM: &str =
    "aws-sdk-go/1.44.302 (go1.20.6; linux; amd64) amazon-ssm-agent/3.2.2143.0";
const AGENT_DATADOG: &str = "datadog-agent/7.51.0 aws-sdk-go/1.50.10 (go1.21.6; linux; amd64)";
pub(super) const AGENT_BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";

pub(super) const HUMAN_IPS: [&str; 6] = [
    "203.0.113.24",
    "198.51.100.7",
    "192.0.2.55",
    "203.0.113.190",
    "198.51.100.211",
    "81.2.69.142",
];

/// Who made a call.
#[derive(Clone, Copy)]
pub(super) enum Who {
    User(&'static str),
    Role(&'static Role, usize),
    Service(&'static str),
    Root { invoked_by: Option<&'static str> },
}
