//! The Lambda's HTTPS client for AWS: rustls trusting only the Amazon Trust
//! Services roots, compiled in, where every AWS endpoint chains to them.
//!
//! The SDK's default client reads the system's whole store (the bundle file
//! and every file of the certificates directory) and decodes its PEM, then
//! parses every root again for each client it builds: 70% of the
//! instructions the function ran before its first poll (callgrind). AWS serves its
//! endpoints in the `aws` and `aws-us-gov` partitions with certificates
//! from Amazon Trust Services (S3, the last, moved in June 2022), whose
//! roots are Amazon Root CA 1 to 4, cross-signed by Starfield Services Root
//! Certificate Authority - G2. Trusting those five only is also narrower:
//! no other certificate authority can vouch for an AWS endpoint to the
//! function.
//!
//! The system store stays in use where that does not hold or was asked
//! for: another partition (`cn-…` regions, the isolated ones), and
//! `SSL_CERT_FILE` or `SSL_CERT_DIR` set (a private CA, a TLS-inspecting
//! proxy). The CLI keeps the SDK's default client.

use std::fmt::Write as _;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use base64::Engine as _;

/// The subjects of the roots AWS endpoints chain to, as they appear in the
/// certificates' DER.
const AMAZON_ROOTS: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

/// Which roots the function's AWS calls trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The Amazon Trust Services roots, compiled in.
    Amazon,
    /// The system's store, as the SDK reads it by default.
    System,
}

impl Trust {
    /// The trust for a function in `region` (`AWS_REGION`), where
    /// `ssl_env` says whether `SSL_CERT_FILE` or `SSL_CERT_DIR` is set.
    pub fn for_region(region: Option<&str>, ssl_env: bool) -> Trust {
        let amazon_partition =
            region.is_some_and(|r| !r.is_empty() && !r.starts_with("cn-") && !r.contains("-iso"));
        if amazon_partition && !ssl_env {
            Trust::Amazon
        } else {
            Trust::System
        }
    }

    /// [`Trust::for_region`] from the process environment.
    pub fn from_env() -> Trust {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok();
        let ssl_env = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .iter()
            .any(|k| std::env::var_os(k).is_some());
        Trust::for_region(region.as_deref(), ssl_env)
    }
}

/// The function's SDK configuration loader: the HTTPS client
/// [`Trust::from_env`] calls for, and the credentials and region Lambda
/// puts in the environment read from there directly.
///
/// The default credentials chain reads the environment first too, but is
/// built whole before: its web-identity provider builds an STS client,
/// with its TLS connector, that the function never uses; the default
/// region chain likewise builds an instance-metadata client. Without
/// `AWS_ACCESS_KEY_ID` or `AWS_REGION` the chains stay.
pub fn lambda_defaults() -> aws_config::ConfigLoader {
    let mut loader = sdk_defaults(Trust::from_env());
    if let Some(region) = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()) {
        loader = loader.region(aws_config::Region::new(region));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
    } else {
        loader
    }
}

/// `aws_config::defaults` with the HTTPS client `trust` calls for.
pub fn sdk_defaults(trust: Trust) -> aws_config::ConfigLoader {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    match trust {
        Trust::System => loader,
        Trust::Amazon => {
            let context = TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(amazon_roots_pem()))
                .build()
                .expect("building a TLS context from a trust store cannot fail");
            let client = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(context)
                .build_https();
            loader.http_client(client)
        }
    }
}

/// The Amazon Trust Services roots, from the Mozilla list compiled in, as
/// one PEM bundle: the form the SDK's trust store takes.
fn amazon_roots_pem() -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    // Each name's searcher built once: building one per certificate was a
    // third of the instructions to the first poll (callgrind).
    let names = AMAZON_ROOTS.map(memchr::memmem::Finder::new);
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        if !names.iter().any(|name| name.find(cert.as_ref()).is_some()) {
            continue;
        }
        let encoded = b64.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(64) {
            // Base64 is ASCII: every chunk of it is UTF-8.
            let _ = writeln!(pem, "{}", String::from_utf8_lossy(line));
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn the_bundle_holds_the_five_amazon_roots_unchanged() {
        let pem = amazon_roots_pem();
        let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed.len(), AMAZON_ROOTS.len());
        for name in AMAZON_ROOTS {
            let found: Vec<_> = parsed
                .iter()
                .filter(|c| memchr::memmem::find(c, name.as_bytes()).is_some())
                .collect();
            assert_eq!(found.len(), 1, "{name}");
            // Byte for byte the compiled-in certificate.
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .any(|c| c.as_ref() == found[0].as_ref())
            );
        }
    }

    #[test]
    fn the_system_store_serves_other_partitions_and_explicit_settings() {
        use Trust::*;
        assert_eq!(Trust::for_region(Some("us-east-1"), false), Amazon);
        assert_eq!(Trust::for_region(Some("us-gov-west-1"), false), Amazon);
        assert_eq!(Trust::for_region(Some("eu-central-2"), false), Amazon);
        assert_eq!(Trust::for_region(Some("cn-north-1"), false), System);
        assert_eq!(Trust::for_region(Some("us-iso-east-1"), false), System);
        assert_eq!(Trust::for_region(Some("us-isob-east-1"), false), System);
        assert_eq!(Trust::for_region(Some("eu-isoe-west-1"), false), System);
        assert_eq!(Trust::for_region(Some("us-east-1"), true), System);
        assert_eq!(Trust::for_region(None, false), System);
        assert_eq!(Trust::for_region(Some(""), false), System);
    }
}
