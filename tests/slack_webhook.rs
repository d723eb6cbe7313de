//! Slack alerts reach a loopback listener as Block Kit JSON, with the URL
//! from the environment or from Secrets Manager (moto), and the URL never
//! appears in any log line: every log of this test binary, at TRACE level
//! for every crate (the SDK and its HTTP connector, hyper, rustls included), is captured and
//! searched. The SNS alert of the same events is read back from moto.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use trailguard::config::Config;
use trailguard::effects::webhook::HttpWebhook;
use trailguard::effects::{ErrorKind, Secret, Webhook, WebhookUrl};
use trailguard::executor::{Channel, DeliveryStatus};
use trailguard::live::{LiveContext, handle_event};
use trailguard::remediate::{Retry, Status};

use support::child::run_alone;
use support::fixtures::event;
use support::http::{Listener, Response};
use support::moto::{AlertQueue, Moto};

/// The credential part of the webhook URLs used here.
const SECRET: &str = "xoxSECRETtoken1234567890";

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once for the whole binary (log-crate
/// records included) and returns everything logged so far.
fn logs() -> String {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let buf = BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only subscriber of this binary");
        buf
    });
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

fn assert_no_secret(logs: &str, url: &str) {
    assert!(logs.contains("decision"), "logs were captured");
    assert!(
        !logs.contains(SECRET),
        "the webhook secret leaked into the logs"
    );
    assert!(!logs.contains(url), "the webhook url leaked into the logs");
}

/// An AttachUserPolicy event whose user agent tries to break out of Slack's
/// markup and mention everyone.
fn hostile_event() -> Value {
    let mut e = event("attach-user-policy");
    e["detail"]["userAgent"] = "evil <!channel> <https://evil.example|click> & co".into();
    e
}

async fn config(extra: &str) -> Config {
    let text = format!(
        "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\ntag = \"trailguard:exempt\"\n{extra}"
    );
    Config::from_toml(&text, "test", std::iter::empty()).unwrap()
}

/// The remediating context of these tests, the webhook URL from the
/// environment (`TRAILGUARD_SLACK_WEBHOOK_URL`'s place).
async fn hook_ctx(sdk: &aws_config::SdkConfig, url: &str) -> LiveContext {
    LiveContext::from_sdk_config(config("").await, sdk, Some(url.to_owned()))
        .unwrap()
        .with_retry(Retry::quick())
}

async fn seed_bob(moto: &Moto) {
    let iam = moto.iam().await;
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("bob")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn slack_message_from_the_env_url_is_escaped_block_kit_and_never_logged() {
    logs();
    let hook = Listener::start(|_| Response::ok("ok")).await;
    let path = format!("/services/T0TEST/B0TEST/{SECRET}");
    let url = hook.url(&path);
    let moto = Moto::start();
    seed_bob(&moto).await;
    let sdk = moto.sdk_config().await;
    let ctx = hook_ctx(&sdk, &url).await;
    assert!(!format!("{:?}", ctx.slack).contains(SECRET));

    let outcome = handle_event(hostile_event(), &ctx).await.unwrap();
    let f = &outcome.findings[0];
    assert_eq!(f.remediation.as_ref().unwrap().status, Status::Done);
    assert_eq!(f.alerts[0].channel, Channel::Slack);
    assert_eq!(f.alerts[0].status, DeliveryStatus::Sent);
    assert!(!serde_json::to_string(&outcome).unwrap().contains(SECRET));

    let got = hook.requests();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, path);
    let body = req.json();
    let blocks = body["blocks"].as_array().unwrap();
    let kinds: Vec<_> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "header", "section", "section", "section", "context", "actions"
        ]
    );
    assert_eq!(
        blocks[0]["text"]["text"],
        "🟠 MEDIUM: Managed policy attached directly to a user"
    );
    let fields: Vec<_> = blocks[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"*Who*\narn:aws:iam::123456789012:user/alice (IAMUser)"));
    assert!(fields.contains(&"*Source IP*\n203.0.113.7"));
    assert!(fields.contains(&"*Account / region*\n123456789012 / us-east-1"));
    assert!(fields.contains(
        &"*User agent*\nevil &lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co"
    ));
    let raw = req.text();
    assert!(!raw.contains("<!channel>") && !raw.contains("<https://evil"));
    let remediation = blocks[3]["text"]["text"].as_str().unwrap();
    assert!(remediation.starts_with("*Remediation:* move-policy-to-group done"));
    assert!(remediation.contains("`aws iam attach-user-policy --user-name bob"));
    assert_eq!(
        blocks[5]["elements"][0]["url"],
        "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/8a1f3c55-7d2e-4b0a-9f61-2c3d4e5f6a01"
    );
    assert_no_secret(&logs(), &url);
}

#[tokio::test]
async fn slack_url_from_secrets_manager_and_a_failed_post_are_never_logged() {
    logs();
    // The hook fails once (a Slack outage), then accepts.
    let calls = Arc::new(Mutex::new(0));
    let seen = calls.clone();
    let hook = Listener::start(move |_| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Response {
                status: 503,
                content_type: "text/plain",
                body: "service_unavailable".into(),
                headers: Vec::new(),
            }
        } else {
            Response::ok("ok")
        }
    })
    .await;
    let url = hook.url(&format!("/services/T1/B1/{SECRET}"));
    let moto = Moto::start();
    seed_bob(&moto).await;
    let sdk = moto.sdk_config().await;
    let arn = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("trailguard-slack")
        .secret_string(serde_json::json!({ "url": url }).to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let extra = format!("[alerts]\nslack_webhook_secret_arn = \"{arn}\"");
    // The env URL is ignored when a secret is configured.
    let ctx = LiveContext::from_sdk_config(
        config(&extra).await,
        &sdk,
        Some("https://x.invalid/y".into()),
    )
    .unwrap()
    .with_retry(Retry::quick());

    let err = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap_err();
    assert!(
        err.is_retryable(),
        "a 503 from Slack is worth a retry: {err}"
    );
    let text = err.to_string();
    assert!(text.contains("slack alert not sent"), "{text}");
    assert!(!text.contains(SECRET), "{text}");

    // The retry: the remediation is already done, the alert goes through.
    let outcome = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap();
    assert_eq!(
        outcome.findings[0].remediation.as_ref().unwrap().status,
        Status::Unchanged
    );
    assert_eq!(outcome.findings[0].alerts[0].status, DeliveryStatus::Sent);
    assert_eq!(hook.requests().len(), 2);
    assert_no_secret(&logs(), &url);
}

/// Slack's rate limit: 429 with Retry-After. The post is made again after
/// the wait it asks for, within the same invocation; three 429s in a row
/// fail it, worth a retry of the event.
#[tokio::test]
async fn a_rate_limited_post_is_sent_again_after_the_wait_slack_asks_for() {
    logs();
    let limited = |n: usize| {
        let calls = Arc::new(Mutex::new(0));
        move |_: &_| {
            let mut seen = calls.lock().unwrap();
            *seen += 1;
            if *seen <= n {
                Response {
                    status: 429,
                    content_type: "text/plain",
                    body: "rate_limited".into(),
                    headers: vec![("Retry-After", "1".into())],
                }
            } else {
                Response::ok("ok")
            }
        }
    };
    let hook = Listener::start(limited(1)).await;
    let url = hook.url(&format!("/services/T6/B6/{SECRET}"));
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ctx = hook_ctx(&sdk, &url).await;
    let started = std::time::Instant::now();
    let outcome = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    let slack = outcome.findings[0].alerts.last().unwrap();
    assert_eq!(slack.status, DeliveryStatus::Sent);
    assert_eq!(hook.requests().len(), 2);

    let always = Listener::start(limited(usize::MAX)).await;
    let url = always.url(&format!("/services/T7/B7/{SECRET}"));
    let ctx = hook_ctx(&sdk, &url).await;
    let err = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("webhook answered 429"), "{err}");
    assert_eq!(always.requests().len(), 3);
    assert_no_secret(&logs(), &url);
}

#[tokio::test]
async fn a_revoked_webhook_is_not_worth_a_retry() {
    logs();
    let hook = Listener::start(|_| Response {
        status: 404,
        content_type: "text/plain",
        body: "no_service".into(),
        headers: Vec::new(),
    })
    .await;
    let url = hook.url(&format!("/services/T2/B2/{SECRET}"));
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ctx = hook_ctx(&sdk, &url).await;
    let err = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("no_service"));
    // Gone: the URL is read again, and a URL from the environment cannot
    // have rotated, so nothing is sent twice.
    assert!(err.to_string().contains("webhook_gone"), "{err}");
    assert_eq!(hook.requests().len(), 1);
    assert_no_secret(&logs(), &url);
}

/// A hook that answers 400 with the request path in its body, as a proxy or
/// a misconfigured server may: the body used to be echoed into the error.
#[tokio::test]
async fn a_webhook_reflecting_the_url_in_its_error_body_leaks_nothing() {
    logs();
    let hook = Listener::start(|req| Response {
        status: 400,
        content_type: "text/plain",
        body: format!("no hook at {}", req.path),
        headers: Vec::new(),
    })
    .await;
    let url = hook.url(&format!("/services/T5/B5/{SECRET}"));
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ctx = hook_ctx(&sdk, &url).await;
    let err = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap_err();
    assert_eq!(hook.requests().len(), 1, "the alert was posted");
    let text = err.to_string();
    assert!(text.contains("400"), "the status is reported: {text}");
    assert!(
        !text.contains(SECRET) && !text.contains("/services/"),
        "{text}"
    );
    let outcome = serde_json::to_string(&err.outcome()).unwrap();
    assert!(outcome.contains("slack"), "{outcome}");
    assert!(
        !outcome.contains(SECRET) && !outcome.contains("no hook"),
        "{outcome}"
    );
    assert_no_secret(&logs(), &url);
}

/// `http://localhost:80@host/` passed the old loopback check (it looked at
/// what precedes the first `:`) and sent the secret path to `host`.
#[tokio::test]
async fn a_user_info_url_from_the_environment_is_refused_before_anything_is_sent() {
    logs();
    let hook = Listener::start(|_| Response::ok("ok")).await;
    let url = format!("http://localhost:80@{}/services/T6/B6/{SECRET}", hook.addr);
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let err = match LiveContext::from_sdk_config(config("").await, &sdk, Some(url)) {
        Ok(_) => panic!("a url with user-info was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("$TRAILGUARD_SLACK_WEBHOOK_URL"), "{err}");
    assert!(err.contains("user name or password"), "{err}");
    assert!(!err.contains(SECRET) && !err.contains("localhost"), "{err}");
    assert!(hook.requests().is_empty());
    assert!(!logs().contains(SECRET));
}

/// The same rule for the URL read from Secrets Manager, checked where the
/// secret is read; the error names the secret and the rule, not the URL.
#[tokio::test]
async fn a_user_info_url_from_secrets_manager_is_refused_without_echoing_it() {
    logs();
    let hook = Listener::start(|_| Response::ok("ok")).await;
    let url = format!("http://localhost:80@{}/services/T7/B7/{SECRET}", hook.addr);
    let moto = Moto::start();
    seed_bob(&moto).await;
    let sdk = moto.sdk_config().await;
    let arn = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("trailguard-slack-userinfo")
        .secret_string(url)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let extra = format!("[alerts]\nslack_webhook_secret_arn = \"{arn}\"");
    let ctx = LiveContext::from_sdk_config(config(&extra).await, &sdk, None)
        .unwrap()
        .with_retry(Retry::quick());
    let err = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!err.is_retryable(), "a bad url stays bad: {text}");
    assert!(
        text.contains(&arn) && text.contains("user name or password"),
        "{text}"
    );
    assert!(
        !text.contains(SECRET) && !text.contains("localhost"),
        "{text}"
    );
    let outcome = serde_json::to_string(&err.outcome()).unwrap();
    assert!(!outcome.contains(SECRET), "{outcome}");
    assert!(hook.requests().is_empty(), "nothing was posted");
    assert_no_secret(&logs(), "localhost:80@");
}

/// The SNS alert of a hostile event as an e-mail subscriber gets it (moto,
/// read back through SQS): CR/LF/NUL/ESC from the event are shown escaped,
/// and a user agent of 150,000 three-byte characters (450,000 bytes, under
/// the old 200,000-character cap) is cut to fit SNS's 262,144 bytes.
#[tokio::test]
async fn sns_alert_of_a_hostile_event_is_escaped_and_capped_in_bytes() {
    let moto = Moto::start();
    let queue = AlertQueue::create(&moto, "trailguard-hostile").await;
    let sdk = moto.sdk_config().await;
    // Alert mode: the forged user name is alerted on, never acted on.
    let text = format!("[alerts]\nsns_topic_arn = \"{}\"", queue.topic_arn);
    let config = Config::from_toml(&text, "test", std::iter::empty()).unwrap();
    let ctx = LiveContext::from_sdk_config(config, &sdk, None)
        .unwrap()
        .with_retry(Retry::quick());

    let mut forged = event("attach-user-policy");
    forged["detail"]["userAgent"] =
        "curl\r\n\r\nRemediation: none needed, ignore this alert\r\n-- trailguard\u{0}\u{1b}[8m"
            .into();
    forged["detail"]["requestParameters"]["userName"] = "bob\r\nSeverity:      low".into();
    let outcome = handle_event(forged, &ctx).await.unwrap();
    assert_eq!(outcome.findings[0].alerts[0].status, DeliveryStatus::Sent);
    let alerts = queue.drain().await;
    assert_eq!(alerts.len(), 1);
    let body = alerts[0]["Message"].as_str().unwrap();
    assert!(
        !body.contains(['\r', '\0', '\u{1b}']),
        "raw control characters: {body:?}"
    );
    for ours in ["Remediation:", "-- trailguard", "Severity:"] {
        assert_eq!(
            body.lines().filter(|l| l.starts_with(ours)).count(),
            1,
            "only trailguard's own `{ours}` line: {body}"
        );
    }
    assert!(
        body.contains("curl\\r\\n\\r\\nRemediation: none needed"),
        "{body}"
    );
    let subject = alerts[0]["Subject"].as_str().unwrap();
    assert!(!subject.contains(['\r', '\n']), "{subject:?}");

    let mut huge = event("attach-user-policy");
    huge["detail"]["userAgent"] = "€".repeat(150_000).into();
    huge["detail"]["eventID"] = "8a1f3c55-0000-4b0a-9f61-2c3d4e5f6a02".into();
    let outcome = handle_event(huge, &ctx).await.unwrap();
    assert_eq!(outcome.findings[0].alerts[0].status, DeliveryStatus::Sent);
    let alerts = queue.drain().await;
    assert_eq!(alerts.len(), 1, "the capped alert was delivered");
    let body = alerts[0]["Message"].as_str().unwrap();
    assert!(body.len() <= 200_000, "{} bytes", body.len());
    assert!(body.ends_with("€..."), "cut on a character boundary");
}

fn hook_url(url: &str) -> WebhookUrl {
    WebhookUrl::parse(Secret::new(url)).expect("a loopback url")
}

/// Nothing listens: the post fails as a connection failure, worth a
/// retry, and the error names no part of the URL's path.
#[tokio::test]
async fn an_unreachable_webhook_is_worth_a_retry_and_named_without_its_url() {
    logs();
    let port = {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        taken.local_addr().unwrap().port()
    };
    let url = hook_url(&format!("http://127.0.0.1:{port}/services/T7/B7/{SECRET}"));
    let err = HttpWebhook::new()
        .post_json(&url, &serde_json::json!({ "text": "t" }))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    let text = err.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains("/services/"),
        "{text}"
    );
    assert!(!logs().contains(SECRET));
}

/// A hook that reads each request, writes `head` (nothing, or the start
/// of an answer) and no more, and closes the connection after `hold`; the
/// channel gives the bytes of each request.
async fn silent_hook(
    hold: Duration,
    head: &'static [u8],
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<usize>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (got_tx, got) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0; 4096];
            let n = tokio::io::AsyncReadExt::read(&mut socket, &mut buf)
                .await
                .unwrap_or(0);
            let _ = got_tx.send(n);
            let _ = tokio::io::AsyncWriteExt::write_all(&mut socket, head).await;
            tokio::spawn(async move {
                tokio::time::sleep(hold).await;
                drop(socket);
            });
        }
    });
    (addr, got)
}

/// A hook that closes the connection without an answer (a load balancer
/// restarting): a failure worth a retry.
#[tokio::test]
async fn a_connection_closed_without_an_answer_is_worth_a_retry() {
    logs();
    let (addr, mut got) = silent_hook(Duration::ZERO, b"").await;
    let url = hook_url(&format!("http://{addr}/services/T10/B10/{SECRET}"));
    let err = HttpWebhook::new()
        .post_json(&url, &serde_json::json!({ "text": "t" }))
        .await
        .unwrap_err();
    assert!(got.recv().await.unwrap() > 0, "the request was sent");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");
}

/// A hook that takes the request and never answers: the post ends at the
/// client's own limit, as a failure worth a retry.
#[tokio::test]
async fn a_webhook_that_never_answers_is_given_up_on_at_the_timeout() {
    logs();
    // Closed after 3 s: a client that waited that long would fail on a
    // closed connection, not on its own limit.
    let (addr, mut got) = silent_hook(Duration::from_secs(3), b"").await;
    let url = hook_url(&format!("http://{addr}/services/T8/B8/{SECRET}"));
    let err = HttpWebhook::with_timeout(Duration::from_millis(300))
        .post_json(&url, &serde_json::json!({ "text": "t" }))
        .await
        .unwrap_err();
    assert!(got.recv().await.unwrap() > 0, "the request was sent");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("300ms"), "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");
}

/// An error answer whose body never comes is still that error, by its
/// status (a revoked hook is not retried), not a timeout.
#[tokio::test]
async fn an_error_answer_whose_body_never_comes_is_reported_by_its_status() {
    logs();
    let head =
        b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nno_";
    let (addr, mut got) = silent_hook(Duration::from_secs(5), head).await;
    let url = hook_url(&format!("http://{addr}/services/T11/B11/{SECRET}"));
    let err = HttpWebhook::with_timeout(Duration::from_millis(300))
        .post_json(&url, &serde_json::json!({ "text": "t" }))
        .await
        .unwrap_err();
    assert!(got.recv().await.unwrap() > 0, "the request was sent");
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("webhook answered 404"), "{err}");
}

/// `HTTPS_PROXY` and `NO_PROXY` are honoured for an `https://` hook, as
/// by any HTTP client: a function in a VPC reaches Slack through its
/// proxy, which is told only the host and port (`CONNECT`), never the
/// secret path. The proxy here is a loopback listener that answers
/// `CONNECT` with a plain 200, so the TLS handshake after it fails; the
/// hook's own port has nothing listening, so only the proxy can have been
/// reached. A plain `http://` hook (loopback only) never goes through the
/// proxy: it would be sent the whole URL.
#[tokio::test]
async fn the_proxy_from_the_environment_carries_https_posts_only() {
    let proxy = Listener::start(|_| Response::ok("ok")).await;
    let proxy_url = format!("http://{}", proxy.addr);
    run_alone(
        "a_post_through_the_proxy_of_the_environment",
        &[("HTTPS_PROXY", proxy_url.as_ref())],
    )
    .await;
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "CONNECT");
    assert_eq!(requests[0].path, "127.0.0.1:9");
    assert!(
        !format!("{requests:?}").contains(SECRET),
        "the proxy saw the path: {requests:?}"
    );

    // `NO_PROXY` naming the hook's host: the post goes straight to it
    // (and fails, nothing listens there), the proxy sees nothing more.
    run_alone(
        "a_post_the_proxy_of_the_environment_is_told_to_skip",
        &[
            ("HTTPS_PROXY", proxy_url.as_ref()),
            ("NO_PROXY", "127.0.0.1".as_ref()),
        ],
    )
    .await;
    // A plain-http hook on loopback with `HTTP_PROXY` and `ALL_PROXY` set:
    // straight to the hook.
    run_alone(
        "a_plain_http_post_never_goes_through_the_proxy",
        &[
            ("HTTP_PROXY", proxy_url.as_ref()),
            ("ALL_PROXY", proxy_url.as_ref()),
        ],
    )
    .await;
    assert_eq!(proxy.requests().len(), 1);
}

/// Run by the test above in a process of its own, `HTTPS_PROXY` set.
#[tokio::test]
#[ignore = "run by the_proxy_from_the_environment_carries_https_posts_only"]
async fn a_post_through_the_proxy_of_the_environment() {
    if std::env::var_os("HTTPS_PROXY").is_none() {
        return; // run alone without its setting (`--include-ignored`)
    }
    let url = hook_url(&format!("https://127.0.0.1:9/services/T9/B9/{SECRET}"));
    let err = HttpWebhook::new()
        .post_json(&url, &serde_json::json!({ "text": "through the proxy" }))
        .await
        .expect_err("the proxy's plain answer is no TLS tunnel");
    assert!(!err.to_string().contains(SECRET), "{err}");
}

/// Run by the test above in a process of its own, `HTTPS_PROXY` and
/// `NO_PROXY` set.
#[tokio::test]
#[ignore = "run by the_proxy_from_the_environment_carries_https_posts_only"]
async fn a_post_the_proxy_of_the_environment_is_told_to_skip() {
    if std::env::var_os("NO_PROXY").is_none() {
        return; // run alone without its setting (`--include-ignored`)
    }
    let url = hook_url(&format!("https://127.0.0.1:9/services/T9/B9/{SECRET}"));
    let err = HttpWebhook::new()
        .post_json(
            &url,
            &serde_json::json!({ "text": "not through the proxy" }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
}

/// Run by the test above in a process of its own, `HTTP_PROXY` and
/// `ALL_PROXY` set.
#[tokio::test]
#[ignore = "run by the_proxy_from_the_environment_carries_https_posts_only"]
async fn a_plain_http_post_never_goes_through_the_proxy() {
    if std::env::var_os("HTTP_PROXY").is_none() {
        return; // run alone without its setting (`--include-ignored`)
    }
    let hook = Listener::start(|_| Response::ok("ok")).await;
    let url = hook_url(&hook.url(&format!("/services/T12/B12/{SECRET}")));
    HttpWebhook::new()
        .post_json(&url, &serde_json::json!({ "text": "straight" }))
        .await
        .expect("the hook answers 200");
    assert_eq!(hook.requests().len(), 1);
}
