//! Whom the function's HTTPS client trusts (src/effects/aws_http.rs): the
//! Amazon Trust Services roots only. A loopback server whose certificate
//! is sound but issued by anyone else is refused during the handshake,
//! before any request is sent; a client that trusts that certificate
//! completes the same handshake, so the refusal is the trust store's.
//! The Slack webhook, not an AWS call, trusts the system's store instead.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{Region, timeout::TimeoutConfig};
use aws_sdk_sns::error::DisplayErrorContext;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trailguard::effects::aws_http::{Trust, sdk_defaults};
use trailguard::effects::webhook::HttpWebhook;
use trailguard::effects::{ErrorKind, Secret, Webhook, WebhookUrl};

use crate::support::child::run_alone;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS server on loopback with the test certificate: it answers every
/// request 400 and says on the channel how many bytes each one held. Its
/// port, the certificate, and the channel.
async fn server() -> (
    u16,
    CertificateDer<'static>,
    tokio::sync::mpsc::UnboundedReceiver<usize>,
) {
    let cert = CertificateDer::from_pem_file(fixture("cert.pem")).expect("the test certificate");
    let key = PrivateKeyDer::from_pem_file(fixture("key.pem")).expect("the test key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (requests_tx, requests) = tokio::sync::mpsc::unbounded_channel::<usize>();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, requests_tx) = (acceptor.clone(), requests_tx.clone());
            tokio::spawn(async move {
                // A handshake the client refuses ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let _ = requests_tx.send(n);
                let _ = tls
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            });
        }
    });

    (port, cert, requests)
}

/// Publishes through a client of `trust`, its endpoint the server's.
async fn publish(trust: Trust, port: u16) -> Result<(), String> {
    let sdk = sdk_defaults(trust)
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("https://127.0.0.1:{port}"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(10))
                .build(),
        )
        .load()
        .await;
    aws_sdk_sns::Client::new(&sdk)
        .publish()
        .topic_arn("arn:aws:sns:us-east-1:111122223333:trailguard-alerts")
        .message("m")
        .send()
        .await
        .map(drop)
        .map_err(|e| DisplayErrorContext(&e).to_string())
}

#[tokio::test]
async fn a_certificate_not_issued_by_the_amazon_roots_is_refused() {
    let (port, cert, mut requests) = server().await;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // The control: a client that trusts this certificate gets through.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .expect("a client trusting the certificate completes the handshake");
    tls.write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(requests.recv().await.unwrap() > 0);

    // The function's client (the Amazon roots): refused, nothing sent.
    let text = publish(Trust::Amazon, port).await.unwrap_err();
    assert!(
        text.contains("invalid peer certificate") && text.contains("UnknownIssuer"),
        "{text}"
    );
    assert!(requests.try_recv().is_err(), "a request got through");

    // The system's store, told to trust the certificate (`SSL_CERT_FILE`,
    // set in a process of its own): the same call reaches the server. So
    // the refusal above is the Amazon-only store's, not the certificate's.
    run_alone(
        "tls::the_system_store_told_to_trust_it_lets_the_call_through",
        &[("SSL_CERT_FILE", fixture("cert.pem").as_os_str())],
    )
    .await;
}

/// Run by the test above in a process of its own, with `SSL_CERT_FILE`
/// naming the test certificate.
#[tokio::test]
#[ignore = "run by a_certificate_not_issued_by_the_amazon_roots_is_refused"]
async fn the_system_store_told_to_trust_it_lets_the_call_through() {
    if std::env::var_os("SSL_CERT_FILE").is_none() {
        return; // run alone without its setting (`--include-ignored`)
    }
    let (port, _, mut requests) = server().await;
    let text = publish(Trust::System, port).await.unwrap_err();
    // The server's 400, not a refused handshake.
    assert!(!text.contains("invalid peer certificate"), "{text}");
    assert!(requests.recv().await.unwrap() > 0);
}

/// Posts a Slack alert to the server's address through the webhook adapter.
async fn post_to_webhook(port: u16) -> Result<(), (ErrorKind, String)> {
    let url = WebhookUrl::parse(Secret::new(format!(
        "https://127.0.0.1:{port}/services/T0/B0/PATHSECRET"
    )))
    .unwrap();
    HttpWebhook::new()
        .post_json(&url, &serde_json::json!({ "text": "t" }))
        .await
        .map_err(|e| {
            let text = e.to_string();
            assert!(!text.contains("PATHSECRET"), "{text}");
            (e.kind, text)
        })
}

/// The Slack webhook trusts the system's store (Slack is not AWS): a
/// certificate the system does not know is refused before any request.
#[tokio::test]
async fn a_webhook_behind_a_certificate_the_system_does_not_know_is_refused() {
    let (port, _, mut requests) = server().await;
    let (kind, text) = post_to_webhook(port).await.unwrap_err();
    assert!(
        text.contains("invalid peer certificate") && text.contains("UnknownIssuer"),
        "{text}"
    );
    // Another try would meet the same certificate: not worth a retry.
    assert_eq!(kind, ErrorKind::Other, "{text}");
    assert!(requests.try_recv().is_err(), "a request got through");
    run_alone(
        "tls::the_webhook_trusts_what_the_system_store_is_told_to",
        &[("SSL_CERT_FILE", fixture("cert.pem").as_os_str())],
    )
    .await;
}

/// Run by the test above in a process of its own, with `SSL_CERT_FILE`
/// naming the test certificate.
#[tokio::test]
#[ignore = "run by a_webhook_behind_a_certificate_the_system_does_not_know_is_refused"]
async fn the_webhook_trusts_what_the_system_store_is_told_to() {
    if std::env::var_os("SSL_CERT_FILE").is_none() {
        return; // run alone without its setting (`--include-ignored`)
    }
    let (port, _, mut requests) = server().await;
    let (_, text) = post_to_webhook(port).await.unwrap_err();
    // The server's 400, not a refused handshake.
    assert!(text.contains("webhook answered 400"), "{text}");
    assert!(requests.recv().await.unwrap() > 0);
}
