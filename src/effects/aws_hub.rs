//! Security Hub through the SDK's own request pipeline, with the two
//! requests trailguard makes written here.
//!
//! `aws-sdk-securityhub` links a serializer and a deserializer for every
//! type of the AWS Security Finding Format as soon as `BatchImportFindings`
//! and `GetFindings` are called (3.7 MB of the function's 18.7 MB binary,
//! and the largest crate of the build). trailguard writes and reads two
//! dozen ASFF fields, so those two calls are made here on
//! `aws-smithy-runtime`'s orchestrator, the one every SDK client runs on:
//! SigV4 signing (`aws-runtime`), the configuration's credentials, identity
//! cache, HTTPS client, retry and timeout settings, and the SDK's retry
//! classifiers. What is ours: the restJson1 request (`POST /findings/import`,
//! `POST /findings`), its answer and error read as `aws-sdk-securityhub`
//! reads them, and the endpoint (`securityhub.REGION.DNS-SUFFIX`), checked
//! against the SDK's resolver for every region it knows
//! (`tests/integration/hub_wire.rs` compares the requests with the SDK's:
//! the bodies as JSON values, the paths, content type and signing scope).

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4AuthScheme};
use aws_runtime::auth::{SigV4OperationSigningConfig, SigningOptions};
use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{
    HttpStatusCodeClassifier, TransientErrorClassifier,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::AuthSchemeOptionResolverParams;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::identity::SharedIdentityResolver;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::{SharedRuntimePlugin, StaticRuntimePlugin};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::Layer;
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_types::SigningName;
use aws_types::region::SigningRegion;
use aws_types::service_config::ServiceConfigKey;
use serde::{Deserialize, Serialize};

use super::aws::classify;
use super::lazy::Lazy;
use super::{EffectError, ErrorKind, FindingsHub, HubFinding};

const IMPORT: &str = "securityhub:BatchImportFindings";
const READ: &str = "securityhub:GetFindings";

/// Security Hub, importing into the region of the configuration it is
/// built on.
#[derive(Debug, Clone)]
pub struct AwsHub {
    client: Lazy<Result<Client, EffectError>>,
}

impl AwsHub {
    /// On an SDK config, its client built on the first call.
    pub fn from_conf(sdk: &SdkConfig) -> Self {
        AwsHub {
            client: Lazy::new(sdk, Client::new),
        }
    }

    fn client(&self, operation: &'static str) -> Result<&Client, EffectError> {
        self.client.get().as_ref().map_err(|e| EffectError {
            operation,
            ..e.clone()
        })
    }
}

/// A request body, already JSON.
struct Body(Vec<u8>);

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.0.len())
    }
}

/// The two operations, on one configuration.
#[derive(Debug, Clone)]
struct Client {
    region: String,
    import: Operation<Body, ImportAnswer, ErrorMetadata>,
    read: Operation<Body, Page, ErrorMetadata>,
}

impl Client {
    fn new(sdk: &SdkConfig) -> Result<Client, EffectError> {
        let invalid = |message: String| EffectError::new(IMPORT, ErrorKind::Invalid, message);
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| invalid("Security Hub needs a region (AWS_REGION)".to_owned()))?;
        let endpoint = endpoint(sdk, &region).map_err(invalid)?;
        let credentials = sdk.credentials_provider().ok_or_else(|| {
            invalid("Security Hub needs credentials; the configuration has none".to_owned())
        })?;
        let mut signing = Layer::new("securityhub");
        signing.store_put(SigV4OperationSigningConfig {
            region: Some(SigningRegion::from(aws_types::region::Region::new(
                region.clone(),
            ))),
            region_set: None,
            name: Some(SigningName::from_static("securityhub")),
            signing_options: SigningOptions::default(),
        });
        signing.store_put(AuthSchemeOptionResolverParams::new(()));
        let mut components = RuntimeComponentsBuilder::new("securityhub")
            .with_auth_scheme(SigV4AuthScheme::new())
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                SCHEME_ID,
            ])))
            .with_identity_resolver(SCHEME_ID, SharedIdentityResolver::new(credentials))
            // The classifiers of every SDK client: connection failures and
            // timeouts, throttling codes (429 `TooManyRequestsException`,
            // `LimitExceededException`), 500, 502, 503, 504.
            .with_retry_classifier(TransientErrorClassifier::<ErrorMetadata>::new())
            .with_retry_classifier(AwsErrorCodeClassifier::<ErrorMetadata>::new())
            .with_retry_classifier(HttpStatusCodeClassifier::default());
        if let Some(cache) = sdk.identity_cache() {
            components = components.with_identity_cache(Some(cache));
        }
        let plugin = SharedRuntimePlugin::new(
            StaticRuntimePlugin::new()
                .with_config(signing.freeze())
                .with_runtime_components(components),
        );
        let operation = |name: &'static str| {
            let mut b = Operation::builder()
                .service_name("SecurityHub")
                .operation_name(name)
                .endpoint_url(&endpoint)
                .standard_retry(sdk.retry_config().unwrap_or(&RetryConfig::standard()))
                .runtime_plugin(plugin.clone());
            if let Some(v) = sdk.behavior_version() {
                b = b.behavior_version(v);
            }
            if let Some(c) = sdk.http_client() {
                b = b.http_client(c);
            }
            if let Some(t) = sdk.timeout_config() {
                b = b.timeout_config(t.clone());
            }
            if let Some(s) = sdk.sleep_impl() {
                b = b.sleep_impl(s);
            }
            if let Some(t) = sdk.time_source() {
                b = b.time_source(t);
            }
            if let Some(s) = sdk.stalled_stream_protection() {
                b = b.stalled_stream_protection(s);
            }
            b
        };
        Ok(Client {
            region,
            import: operation("BatchImportFindings")
                .serializer(|body: Body| post("/findings/import", body))
                .deserializer(|r: &HttpResponse| answer(r))
                .build(),
            read: operation("GetFindings")
                .serializer(|body: Body| post("/findings", body))
                .deserializer(|r: &HttpResponse| answer(r))
                .build(),
        })
    }
}

/// The endpoint the SDK's resolver gives for Security Hub: an endpoint URL
/// configured (`AWS_ENDPOINT_URL_SECURITYHUB`, then `AWS_ENDPOINT_URL`),
/// else `securityhub[-fips].REGION.SUFFIX` in the region's partition.
fn endpoint(sdk: &SdkConfig, region: &str) -> Result<String, String> {
    let fips = sdk.use_fips().unwrap_or(false);
    let dual_stack = sdk.use_dual_stack().unwrap_or(false);
    let configured = ServiceConfigKey::builder()
        .service_id("SecurityHub")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()
        .and_then(|key| sdk.service_config()?.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned));
    if let Some(url) = configured {
        return match (fips, dual_stack) {
            (true, _) => Err("FIPS and a custom endpoint are not supported together".to_owned()),
            (_, true) => {
                Err("dual-stack and a custom endpoint are not supported together".to_owned())
            }
            _ => Ok(url),
        };
    }
    Ok(regional_endpoint(region, fips, dual_stack))
}

/// `https://securityhub[-fips].REGION.SUFFIX`, the suffix of the region's
/// partition (the SDK's partition table, 2026; a region of no known
/// partition is taken as `aws`'s, as the SDK takes it).
fn regional_endpoint(region: &str, fips: bool, dual_stack: bool) -> String {
    // (region prefix and shape, DNS suffix, dual-stack DNS suffix).
    const PARTITIONS: [(&str, &str, &str); 8] = [
        ("cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
        ("us-gov-", "amazonaws.com", "api.aws"),
        ("us-iso-", "c2s.ic.gov", "api.aws.ic.gov"),
        ("us-isob-", "sc2s.sgov.gov", "api.aws.scloud"),
        ("eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
        ("us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
        ("eusc-de-", "amazonaws.eu", "api.amazonwebservices.eu"),
        ("", "amazonaws.com", "api.aws"),
    ];
    // A partition's regions are PREFIX, a word, a number (`cn-north-1`);
    // the few named ones (`aws-cn-global`) are each partition's own.
    let named = [
        ("aws-cn-global", 0),
        ("aws-us-gov-global", 1),
        ("aws-iso-global", 2),
        ("aws-iso-b-global", 3),
        ("aws-iso-e-global", 4),
        ("aws-iso-f-global", 5),
    ];
    let shaped = |prefix: &str| {
        region.strip_prefix(prefix).is_some_and(|rest| {
            let mut parts = rest.split('-');
            let word = parts.next().unwrap_or("");
            let number = parts.next().unwrap_or("");
            parts.next().is_none()
                && !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit())
        })
    };
    let index = named
        .iter()
        .find(|(name, _)| *name == region)
        .map(|(_, i)| *i)
        .or_else(|| PARTITIONS[..7].iter().position(|(p, _, _)| shaped(p)))
        .unwrap_or(7);
    let (_, suffix, dual_suffix) = PARTITIONS[index];
    let host = if fips {
        "securityhub-fips"
    } else {
        "securityhub"
    };
    let suffix = if dual_stack { dual_suffix } else { suffix };
    format!("https://{host}.{region}.{suffix}")
}

fn post(path: &str, body: Body) -> Result<HttpRequest, BoxError> {
    let length = body.0.len();
    let mut request = HttpRequest::new(SdkBody::from(body.0));
    request.set_method("POST")?;
    request.set_uri(path)?;
    let headers = request.headers_mut();
    headers.insert("content-type", "application/json");
    headers.insert("content-length", length.to_string());
    Ok(request)
}

/// A 2xx answer read as `T`; any other as the service's error, its code
/// and message where the SDK finds them (`x-amzn-errortype`, then the
/// body's `code` or `__type`, without namespace or `:` suffix).
fn answer<T: for<'de> Deserialize<'de>>(
    response: &HttpResponse,
) -> Result<T, OrchestratorError<ErrorMetadata>> {
    let body = response.body().bytes().unwrap_or_default();
    if response.status().is_success() {
        return serde_json::from_slice(body).map_err(|e| {
            OrchestratorError::operation(
                ErrorMetadata::builder()
                    .message(format!("the service's answer is not what was asked: {e}"))
                    .build(),
            )
        });
    }
    #[derive(Deserialize, Default)]
    struct ErrorBody {
        code: Option<String>,
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message", alias = "errorMessage")]
        message: Option<String>,
    }
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .map(str::to_owned)
        .or(parsed.code)
        .or(parsed.kind)
        .map(|c| {
            let c = c.split(':').next().unwrap_or_default();
            c.rsplit('#').next().unwrap_or_default().to_owned()
        });
    let mut err = ErrorMetadata::builder();
    if let Some(code) = code {
        err = err.code(code);
    }
    if let Some(message) = parsed.message {
        err = err.message(message);
    }
    Err(OrchestratorError::operation(err.build()))
}

// The ASFF fields trailguard writes, as `aws-sdk-securityhub` writes them.

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Import<'a> {
    findings: Vec<Asff<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Asff<'a> {
    schema_version: &'static str,
    id: &'a str,
    product_arn: String,
    generator_id: &'a str,
    aws_account_id: &'a str,
    region: &'a str,
    types: &'a [String],
    created_at: &'a str,
    updated_at: &'a str,
    severity: Severity<&'a str>,
    title: &'a str,
    description: &'a str,
    remediation: Remediation<&'a str>,
    resources: Vec<Resource<&'a str>>,
    compliance: Compliance<&'a str>,
    record_state: &'static str,
    product_fields: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_url: Option<&'a str>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Severity<S> {
    label: Option<S>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Remediation<S> {
    recommendation: Option<Recommendation<S>>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Recommendation<S> {
    text: Option<S>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Resource<S> {
    r#type: Option<S>,
    id: Option<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<S>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Compliance<S> {
    status: Option<S>,
    related_requirements: Option<Vec<S>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportAnswer {
    #[serde(default)]
    failed_findings: Option<Vec<Failed>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Failed {
    id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Read<'a> {
    filters: Filters<'a>,
    max_results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Filters<'a> {
    aws_account_id: [Filter<'a>; 1],
    generator_id: [Filter<'a>; 1],
    record_state: [Filter<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Filter<'a> {
    value: &'a str,
    comparison: &'static str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    #[serde(default)]
    findings: Option<Vec<Found>>,
    #[serde(default)]
    next_token: Option<String>,
}

/// A finding read back: the fields trailguard wrote, any other ignored.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Found {
    id: Option<String>,
    product_arn: Option<String>,
    generator_id: Option<String>,
    aws_account_id: Option<String>,
    types: Option<Vec<String>>,
    created_at: Option<String>,
    updated_at: Option<String>,
    severity: Option<Severity<String>>,
    title: Option<String>,
    description: Option<String>,
    remediation: Option<Remediation<String>>,
    resources: Option<Vec<Resource<String>>>,
    compliance: Option<Compliance<String>>,
    record_state: Option<String>,
    product_fields: Option<BTreeMap<String, String>>,
    source_url: Option<String>,
}

impl Client {
    /// The default product of the account that owns the finding: the only
    /// one a finding provider may import into for that account.
    fn product_arn(&self, partition: &str, account: &str) -> String {
        format!(
            "arn:{partition}:securityhub:{}:{account}:product/{account}/default",
            self.region
        )
    }

    fn to_asff<'a>(&'a self, f: &'a HubFinding) -> Asff<'a> {
        Asff {
            schema_version: "2018-10-08",
            id: &f.id,
            product_arn: self.product_arn(&f.partition, &f.account),
            generator_id: &f.generator_id,
            aws_account_id: &f.account,
            region: &self.region,
            types: &f.types,
            created_at: &f.created_at,
            updated_at: &f.updated_at,
            severity: Severity {
                label: Some(&f.severity),
            },
            title: &f.title,
            description: &f.description,
            remediation: Remediation {
                recommendation: Some(Recommendation {
                    text: Some(&f.recommendation),
                }),
            },
            resources: f
                .resources
                .iter()
                .map(|(kind, id)| Resource {
                    r#type: Some(kind.as_str()),
                    id: Some(id.as_str()),
                    partition: Some(f.partition.as_str()),
                    region: Some(self.region.as_str()),
                })
                .collect(),
            compliance: Compliance {
                status: Some(if f.passed { "PASSED" } else { "FAILED" }),
                related_requirements: Some(f.requirements.iter().map(String::as_str).collect()),
            },
            record_state: if f.archived { "ARCHIVED" } else { "ACTIVE" },
            product_fields: f
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            source_url: f.source_url.as_deref(),
        }
    }
}

/// A finding read back, as trailguard wrote it.
fn from_asff(f: Found) -> HubFinding {
    let text = |v: Option<String>| v.unwrap_or_default();
    let compliance = f.compliance.unwrap_or_default();
    HubFinding {
        id: text(f.id),
        generator_id: text(f.generator_id),
        account: text(f.aws_account_id),
        partition: f
            .product_arn
            .as_deref()
            .and_then(|a| a.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned(),
        types: f.types.unwrap_or_default(),
        created_at: text(f.created_at),
        updated_at: text(f.updated_at),
        severity: f
            .severity
            .and_then(|s| s.label)
            .unwrap_or_else(|| "INFORMATIONAL".to_owned()),
        title: text(f.title),
        description: text(f.description),
        recommendation: text(
            f.remediation
                .and_then(|r| r.recommendation)
                .and_then(|r| r.text),
        ),
        resources: f
            .resources
            .unwrap_or_default()
            .into_iter()
            .map(|r| (text(r.r#type), text(r.id)))
            .collect(),
        passed: compliance.status.as_deref() == Some("PASSED"),
        requirements: compliance.related_requirements.unwrap_or_default(),
        archived: f.record_state.as_deref() == Some("ARCHIVED"),
        // Sorted by key, as a map is read.
        fields: f.product_fields.unwrap_or_default().into_iter().collect(),
        source_url: f.source_url,
    }
}

fn json(operation: &'static str, value: &impl Serialize) -> Result<Body, EffectError> {
    serde_json::to_vec(value)
        .map(Body)
        .map_err(|e| EffectError::new(operation, ErrorKind::Invalid, e.to_string()))
}

#[async_trait]
impl FindingsHub for AwsHub {
    async fn import(&self, findings: &[HubFinding]) -> Result<Vec<(String, String)>, EffectError> {
        if findings.len() > super::hub::BATCH_MAX {
            return Err(EffectError::new(
                IMPORT,
                ErrorKind::Invalid,
                format!("{} findings in one batch (at most 100)", findings.len()),
            ));
        }
        let client = self.client(IMPORT)?;
        let body = Import {
            findings: findings.iter().map(|f| client.to_asff(f)).collect(),
        };
        let out = client
            .import
            .invoke(json(IMPORT, &body)?)
            .await
            .map_err(|e| classify(IMPORT, e))?;
        Ok(out
            .failed_findings
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                (
                    f.id.unwrap_or_default(),
                    format!(
                        "{}: {}",
                        f.error_code.unwrap_or_default(),
                        f.error_message.unwrap_or_default()
                    ),
                )
            })
            .collect())
    }

    async fn active(
        &self,
        account: &str,
        generator_prefix: &str,
    ) -> Result<Vec<HubFinding>, EffectError> {
        let client = self.client(READ)?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = Read {
                filters: Filters {
                    aws_account_id: [Filter {
                        value: account,
                        comparison: "EQUALS",
                    }],
                    generator_id: [Filter {
                        value: generator_prefix,
                        comparison: "PREFIX",
                    }],
                    record_state: [Filter {
                        value: "ACTIVE",
                        comparison: "EQUALS",
                    }],
                },
                max_results: 100,
                next_token: token.as_deref(),
            };
            let page = client
                .read
                .invoke(json(READ, &request)?)
                .await
                .map_err(|e| classify(READ, e))?;
            // Filtered again here: what the service answered is trusted
            // no further than the filter we meant.
            out.extend(
                page.findings
                    .unwrap_or_default()
                    .into_iter()
                    .map(from_asff)
                    .filter(|f| {
                        f.account == account
                            && f.generator_id.starts_with(generator_prefix)
                            && !f.archived
                    }),
            );
            match page.next_token {
                // A token answered twice would be read forever (the SDK's
                // paginators stop on it too): the read is reported, not
                // cut short, since what it misses would stay active.
                Some(t) if token.as_deref() == Some(t.as_str()) => {
                    return Err(EffectError::new(
                        READ,
                        ErrorKind::Other,
                        format!("the same NextToken `{t}` answered twice"),
                    ));
                }
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_securityhub::config::endpoint::{Params, ResolveEndpoint};

    /// Every region of every partition the SDK knows, and made-up ones of
    /// each partition's shape (a region AWS opens next).
    const REGIONS: &[&str] = &[
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "aws-global",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "aws-cn-global",
        "cn-north-1",
        "cn-northwest-1",
        "eusc-de-east-1",
        "aws-iso-global",
        "us-iso-east-1",
        "us-iso-west-1",
        "aws-iso-b-global",
        "us-isob-east-1",
        "us-isob-west-1",
        "aws-iso-e-global",
        "eu-isoe-west-1",
        "aws-iso-f-global",
        "us-isof-east-1",
        "us-isof-south-1",
        "aws-us-gov-global",
        "us-gov-east-1",
        "us-gov-west-1",
        // Not yet opened, of each shape.
        "ap-southeast-9",
        "us-north-2",
        "cn-south-1",
        "eusc-de-west-1",
        "us-iso-north-1",
        "us-isob-north-2",
        "eu-isoe-east-1",
        "us-isof-west-1",
        "us-gov-central-1",
        "xx-made-1",
    ];

    #[test]
    fn the_endpoint_is_the_sdks_for_every_region() {
        let sdk = aws_sdk_securityhub::config::endpoint::DefaultResolver::new();
        for region in REGIONS {
            for fips in [false, true] {
                for dual_stack in [false, true] {
                    let params = Params::builder()
                        .region(*region)
                        .use_fips(fips)
                        .use_dual_stack(dual_stack)
                        .build()
                        .unwrap();
                    let theirs =
                        futures_util::FutureExt::now_or_never(sdk.resolve_endpoint(&params))
                            .expect("resolved at once")
                            .unwrap_or_else(|e| panic!("{region} {fips} {dual_stack}: {e}"));
                    assert_eq!(
                        regional_endpoint(region, fips, dual_stack),
                        theirs.url(),
                        "{region}, FIPS {fips}, dual-stack {dual_stack}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_configured_endpoint_wins_and_refuses_fips() {
        let base = || {
            aws_config::SdkConfig::builder()
                .region(aws_config::Region::new("eu-west-1"))
                .behavior_version(aws_config::BehaviorVersion::latest())
        };
        let sdk = base().build();
        assert_eq!(
            endpoint(&sdk, "eu-west-1").unwrap(),
            "https://securityhub.eu-west-1.amazonaws.com"
        );
        let sdk = base().endpoint_url("http://127.0.0.1:9").build();
        assert_eq!(endpoint(&sdk, "eu-west-1").unwrap(), "http://127.0.0.1:9");
        let sdk = base()
            .endpoint_url("http://127.0.0.1:9")
            .use_fips(true)
            .build();
        let err = endpoint(&sdk, "eu-west-1").unwrap_err();
        assert!(err.contains("FIPS"), "{err}");
    }

    #[test]
    fn a_finding_comes_back_as_written() {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "test"),
                ),
            )
            .build();
        let client = Client::new(&sdk).unwrap();
        let finding = HubFinding {
            id: "trailguard/111122223333/e1/user-policy-attached".to_owned(),
            generator_id: "trailguard/event/user-policy-attached".to_owned(),
            account: "111122223333".to_owned(),
            partition: "aws-us-gov".to_owned(),
            types: vec!["Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark".to_owned()],
            created_at: "2026-12-02T10:00:00Z".to_owned(),
            updated_at: "2026-12-02T10:05:00Z".to_owned(),
            severity: "HIGH".to_owned(),
            title: "A \"quoted\" title".to_owned(),
            description: "line one\nline two".to_owned(),
            recommendation: "Move the policy to a group.".to_owned(),
            resources: vec![
                ("AwsIamUser".to_owned(), "arn:aws-us-gov:iam::111122223333:user/bob".to_owned()),
                ("AwsAccount".to_owned(), "AWS::::Account:111122223333".to_owned()),
            ],
            passed: true,
            requirements: vec!["CIS 1.15".to_owned(), "IAM.2".to_owned()],
            archived: true,
            fields: vec![
                ("trailguard/remediation".to_owned(), "done".to_owned()),
                ("trailguard/rule".to_owned(), "user-policy-attached".to_owned()),
            ],
            source_url: Some("https://example.com/e1".to_owned()),
        };
        let written = serde_json::to_vec(&client.to_asff(&finding)).unwrap();
        let read: Found = serde_json::from_slice(&written).unwrap();
        assert_eq!(from_asff(read), finding);
    }
}
