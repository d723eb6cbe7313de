//! Incoming webhooks (Slack) over HTTPS, on the AWS SDK's own HTTP
//! connector (`aws-smithy-http-client`): hyper and rustls with the system's
//! root certificates, `HTTPS_PROXY`/`NO_PROXY` honoured, connect and read
//! timeouts. The function already carries that stack for its AWS calls; a
//! second HTTP client crate only for Slack cost the zip about a quarter of
//! a megabyte (docs/benchmarks.md).
//!
//! The URL is a credential. The connector is called directly, not through
//! the SDK's request pipeline, whose trace logs print each request whole;
//! the connector's errors (DNS, TCP, TLS, timeouts) name no URL. An error
//! answer is reported by its status only, never its body; nothing here
//! logs.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use async_trait::async_trait;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use url::Url;

use super::{EffectError, ErrorKind, Webhook, WebhookUrl};

const OP: &str = "slack:PostMessage";

/// Posts JSON on a shared connection pool with a bounded time per post.
///
/// The connector (and the root certificates it loads) is built on first
/// use: a deployment without Slack never pays for it at cold start.
/// Redirects are never followed: a webhook that redirects is
/// misconfigured, and the URL must not travel on.
///
/// An `https://` hook goes through the proxy the environment names, as
/// with any HTTP client: the proxy sees only `CONNECT host:443`. A plain
/// `http://` hook, which [`check_url`] allows only on loopback, never does:
/// a proxy would be sent the whole URL, and could not reach the function's
/// loopback anyway.
#[derive(Debug)]
pub struct HttpWebhook {
    proxied: tokio::sync::OnceCell<Connector>,
    direct: tokio::sync::OnceCell<Connector>,
    timeout: Duration,
}

/// How long an error answer's body is waited for, for its Slack error
/// code; without it the status alone is reported.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(2);

impl Default for HttpWebhook {
    fn default() -> Self {
        HttpWebhook::with_timeout(Duration::from_secs(10))
    }
}

impl HttpWebhook {
    /// A webhook client that waits at most 10 s for an answer.
    pub fn new() -> Self {
        HttpWebhook::default()
    }

    /// A webhook client that waits at most `timeout` for an answer.
    pub fn with_timeout(timeout: Duration) -> Self {
        HttpWebhook {
            proxied: tokio::sync::OnceCell::new(),
            direct: tokio::sync::OnceCell::new(),
            timeout,
        }
    }

    async fn connector(&self, https: bool) -> &Connector {
        let (cell, proxy) = if https {
            (&self.proxied, ProxyConfig::from_env())
        } else {
            (&self.direct, ProxyConfig::disabled())
        };
        cell.get_or_init(|| async {
            let settings = HttpConnectorSettings::builder()
                .connect_timeout(self.timeout)
                .read_timeout(self.timeout)
                .build();
            Connector::builder()
                .connector_settings(settings)
                .sleep_impl(TokioSleep::new())
                .proxy_config(proxy)
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                // The system's roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`
                // honoured), as for any HTTPS client: Slack is not AWS.
                .tls_context(TlsContext::default())
                .build()
        })
        .await
    }
}

/// A failed connection, TLS handshake or timeout; the causes are the
/// connector's own and hold no URL. A connection closed before the answer
/// is transient to the connector, as to the SDK's retries. A handshake TLS
/// refused (an untrusted certificate or name, a protocol alert) is not: the
/// connector reports it as an I/O error, but another try meets the same
/// certificate.
fn unsent(e: ConnectorError) -> EffectError {
    let refused = tls_refused(&e);
    let transient = e.as_other() == Some(aws_smithy_types::retry::ErrorKind::TransientError);
    let kind = if refused {
        ErrorKind::Other
    } else if e.is_timeout() || e.is_io() || transient {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Other
    };
    EffectError::new(OP, kind, DisplayErrorContext(&e).to_string())
}

/// Whether rustls refused the handshake: its error is in the chain. An
/// `io::Error` wrapping another answers that one's source, not the error
/// itself, so its inner error is walked into.
fn tls_refused(e: &ConnectorError) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<rustls::Error>() {
            return true;
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => err.source(),
        };
    }
    false
}

#[async_trait]
impl Webhook for HttpWebhook {
    async fn post_json(
        &self,
        url: &WebhookUrl,
        body: &serde_json::Value,
    ) -> Result<(), EffectError> {
        let body: bytes::Bytes = serde_json::to_vec(body)
            .map_err(|e| EffectError::new(OP, ErrorKind::Invalid, e.to_string()))?
            .into();
        // Slack's rate limit (429) says the message was not taken and when
        // to try again: tried again here, within bounds, before the
        // invocation fails over it. Nothing else is sent twice from here.
        let mut tries = 1;
        loop {
            match self.post_once(url, body.clone()).await {
                Err(Refused::RateLimited(_, wait)) if tries < RATE_LIMITED_TRIES => {
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                Err(Refused::RateLimited(err, _) | Refused::Other(err)) => return Err(err),
                Ok(()) => return Ok(()),
            }
        }
    }
}

/// Why one post was not taken: Slack's rate limit, with the wait it asks
/// for (`Retry-After`, bounded), or anything else.
enum Refused {
    RateLimited(EffectError, Duration),
    Other(EffectError),
}

impl From<EffectError> for Refused {
    fn from(e: EffectError) -> Self {
        Refused::Other(e)
    }
}

/// Posts in all when Slack answers 429: the first and two more.
const RATE_LIMITED_TRIES: u32 = 3;
/// The longest `Retry-After` waited for here; a longer one is waited for
/// as at most this (the invocation has 300 s, and its own retries follow).
const RATE_LIMIT_WAIT_MAX: Duration = Duration::from_secs(10);

/// A 429's `Retry-After` in seconds, bounded; 1 s when absent or unreadable.
fn retry_after(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs)
        .min(RATE_LIMIT_WAIT_MAX)
}

impl HttpWebhook {
    async fn post_once(&self, url: &WebhookUrl, body: bytes::Bytes) -> Result<(), Refused> {
        let mut request = HttpRequest::new(SdkBody::from(body));
        // `check_url` made the URL; it parses. Only the rule is named.
        request.set_uri(url.expose()).map_err(|_| {
            EffectError::new(OP, ErrorKind::Invalid, "the webhook url is not a uri")
        })?;
        request.set_method("POST").expect("POST is a valid method");
        request
            .headers_mut()
            .insert("content-type", "application/json");
        let https = request.uri().starts_with("https:");
        let connector = self.connector(https).await;
        let response = tokio::time::timeout(self.timeout, connector.call(request))
            .await
            .map_err(|_| {
                EffectError::new(
                    OP,
                    ErrorKind::Unavailable,
                    format!("no answer within {:?}", self.timeout),
                )
            })?
            .map_err(unsent)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let wait = (status == 429).then(|| retry_after(response.headers().get("retry-after")));
        // Only the status, and a hint from a fixed list: a server that
        // reflects the request path in its error body would leak the URL.
        // A body that does not come is no hint; the status is still the answer.
        let hint = tokio::time::timeout(ERROR_BODY_WAIT, known_error(response.into_body()))
            .await
            .ok()
            .flatten();
        let message = match hint {
            Some(hint) => format!("webhook answered {status} ({hint})"),
            None => format!("webhook answered {status}"),
        };
        let mut err = EffectError::new(OP, ErrorKind::from_code(None, Some(status)), message);
        // Slack's 404/410 mean a revoked hook or an archived channel, not a
        // missing entity trailguard could wait for.
        if err.kind == ErrorKind::NotFound {
            err.kind = ErrorKind::Invalid;
        }
        if matches!(status, 403 | 404 | 410) {
            err.code = Some(HOOK_GONE.into());
        }
        Err(match wait {
            Some(wait) => Refused::RateLimited(err, wait),
            None => Refused::Other(err),
        })
    }
}

/// The code of an answer that says the hook itself is gone or disabled
/// (403, 404, 410): after the secret was rotated, it holds another one.
pub const HOOK_GONE: &str = "webhook_gone";

/// The error codes Slack answers an incoming webhook with; an answer that is
/// exactly one of them is named in the error, anything else is dropped.
const SLACK_ERRORS: &[&str] = &[
    "invalid_payload",
    "user_not_found",
    "channel_not_found",
    "channel_is_archived",
    "action_prohibited",
    "posting_to_general_channel_denied",
    "too_many_attachments",
    "no_service",
    "no_service_id",
    "no_team",
    "team_disabled",
    "invalid_token",
];

/// The Slack error code the answer consists of, if it is a known one. Reads
/// at most a few chunks: the body is never kept or shown.
async fn known_error(body: SdkBody) -> Option<&'static str> {
    let mut body = ByteStream::new(body);
    let mut head = Vec::new();
    while head.len() <= 64 {
        match body.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = std::str::from_utf8(&head).ok()?.trim();
    SLACK_ERRORS.iter().copied().find(|code| *code == text)
}

/// Checks a webhook URL with a real URL parser and answers it normalised:
/// `https` only, `http` only to a loopback host (127.0.0.0/8, `::1`,
/// `localhost`), never a user name or password (`http://localhost:80@host/`
/// would send the secret path to `host`). The error names the rule broken,
/// never the URL.
pub fn check_url(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    // The parser silently drops tabs and newlines inside a URL; a secret
    // holding them is damaged, not something to guess at.
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters");
    }
    let url = Url::parse(text).map_err(|_| "is not a valid url")?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must be an https:// url");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password");
    }
    // The parser has normalised the host: IPv4 in dotted decimal, IPv6 in
    // brackets, names in lower case.
    let loopback = match url.host_str() {
        None | Some("") => return Err("has no host"),
        Some("localhost") => true,
        Some(host) => match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback()),
            None => host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()),
        },
    };
    if url.scheme() == "http" && !loopback {
        return Err("must use https (plain http only to a loopback address)");
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::{Duration, check_url, retry_after};

    #[test]
    fn retry_after_is_read_in_seconds_and_bounded() {
        assert_eq!(retry_after(Some("3")), Duration::from_secs(3));
        assert_eq!(retry_after(Some(" 0 ")), Duration::ZERO);
        assert_eq!(retry_after(Some("3600")), Duration::from_secs(10));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")),
            Duration::from_secs(1)
        );
        assert_eq!(retry_after(None), Duration::from_secs(1));
    }

    #[test]
    fn https_and_loopback_http_urls_are_accepted() {
        for ok in [
            "https://hooks.slack.com/services/T0/B0/XYZ",
            "http://127.0.0.1:9/hook",
            "http://127.5.6.7/hook",
            "http://localhost:8080/hook",
            "http://[::1]:9/hook",
            "  https://hooks.slack.com/services/T0/B0/XYZ\n",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_url("https://hooks.slack.com/services/T0/B0/XYZ").unwrap(),
            "https://hooks.slack.com/services/T0/B0/XYZ"
        );
    }

    /// `http://localhost:80@192.0.2.2:5088/` passed the old prefix check:
    /// `localhost:80` is user-info, the host is 192.0.2.2.
    #[test]
    fn user_info_and_hosts_that_only_look_like_loopback_are_refused() {
        let cases = [
            (
                "http://localhost:80@192.0.2.2:5088/services/SECRET",
                "user name",
            ),
            ("http://127.0.0.1@192.0.2.2/SECRET", "user name"),
            ("https://user:pw@hooks.slack.com/SECRET", "user name"),
            ("https://:pw@hooks.slack.com/SECRET", "user name"),
            ("http://127.0.0.1.evil.example/SECRET", "https"),
            ("http://localhost.evil.example/SECRET", "https"),
            ("http://[::ffff:192.0.2.2]/SECRET", "https"),
            ("http://evil.example/SECRET", "https"),
            ("ftp://hooks.slack.com/SECRET", "https"),
            ("file:///etc/SECRET", "https"),
            ("hooks.slack.com/SECRET", "not a valid url"),
            ("https://hooks.slack.com/SE CRET", "whitespace"),
            ("https://hooks.slack.com/SE\tCRET", "whitespace"),
        ];
        for (url, rule) in cases {
            let err = check_url(url).unwrap_err();
            assert!(err.contains(rule), "{url}: {err}");
            assert!(
                !err.contains("SECRET") && !err.contains("192.0.2.2"),
                "{err}"
            );
        }
    }
}
