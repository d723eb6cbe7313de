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
//! for: another partition (`cn-…` regions, the isolated ones, and the
//! European Sovereign Cloud, `eusc-…`, whose certificates Amazon Trust
//! Services issues from roots of their own, "Amazon … EU" roots
//! cross-signed by Amazon Root CA 1, 3 and 4), and `SSL_CERT_FILE` or
//! `SSL_CERT_DIR` set (a private CA, a TLS-inspecting proxy). The CLI
//! keeps the SDK's default client.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

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
        let amazon_partition = region.is_some_and(|r| {
            !r.is_empty() && !r.starts_with("cn-") && !r.starts_with("eusc-") && !r.contains("-iso")
        });
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
                .with_trust_store(TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM))
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

/// The Amazon Trust Services roots as one PEM bundle, the form the SDK's
/// trust store takes: the five certificates only, compiled in
/// (`data/amazon-trust-roots.pem`; a test holds them byte for byte to the
/// Mozilla list of `webpki-root-certs`). Picking them out of the whole
/// list at start cost 15% of the instructions to the first poll
/// (callgrind), and the list about 130 kB of the binary.
const AMAZON_ROOTS_PEM: &str = include_str!("../../data/amazon-trust-roots.pem");

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    /// The subjects of the roots AWS endpoints chain to, as they appear
    /// in the certificates' DER.
    const AMAZON_ROOTS: [&str; 5] = [
        "Amazon Root CA 1",
        "Amazon Root CA 2",
        "Amazon Root CA 3",
        "Amazon Root CA 4",
        "Starfield Services Root Certificate Authority - G2",
    ];

    #[test]
    fn the_bundle_is_the_mozilla_lists_five_amazon_roots() {
        let bundled: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let named = |der: &[u8]| {
            AMAZON_ROOTS
                .iter()
                .any(|name| memchr::memmem::find(der, name.as_bytes()).is_some())
        };
        // Every certificate of the list that names an Amazon root: the
        // bundle is exactly these, byte for byte, in any order.
        let mut listed: Vec<&[u8]> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| c.as_ref())
            .filter(|der| named(der))
            .collect();
        assert_eq!(listed.len(), AMAZON_ROOTS.len());
        let mut bundled: Vec<&[u8]> = bundled.iter().map(|c| c.as_ref()).collect();
        bundled.sort();
        listed.sort();
        assert_eq!(bundled, listed);
        for name in AMAZON_ROOTS {
            assert_eq!(
                bundled
                    .iter()
                    .filter(|der| memchr::memmem::find(der, name.as_bytes()).is_some())
                    .count(),
                1,
                "{name}"
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
        assert_eq!(Trust::for_region(Some("eusc-de-east-1"), false), System);
        assert_eq!(Trust::for_region(Some("us-east-1"), true), System);
        assert_eq!(Trust::for_region(None, false), System);
        assert_eq!(Trust::for_region(Some(""), false), System);
    }
}
