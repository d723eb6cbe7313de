//! Reading an archive in S3: list one folder, stream one object; and
//! storing a backtest batch's results. The SDK
//! adapter ([`AwsS3`]) is the only code that sees S3's types.
//!
//! The interface is blocking: replay's workers are threads, each reading
//! one object at a time while it parses, and the adapter runs the SDK on a
//! small runtime of its own.

use std::io::{self, Read};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use bytes::{Buf, Bytes};

use super::{EffectError, ErrorKind};

/// One folder's entries, one level down (delimiter `/`), every page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Sub-folders, each a full prefix ending in `/`.
    pub folders: Vec<String>,
    pub objects: Vec<Object>,
}

/// An object as a listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    /// Bytes as stored (compressed, for a log file).
    pub size: u64,
}

/// The reads a replay makes of a bucket.
pub trait ObjectStore: Send + Sync {
    /// `ListObjectsV2` of `prefix` with delimiter `/`, every page.
    fn list(&self, bucket: &str, prefix: &str) -> Result<Listing, EffectError>;

    /// `GetObject`: the object's bytes as they arrive. A failure while
    /// reading is an [`io::ErrorKind::ConnectionAborted`] error (worth a
    /// new attempt); anything else comes from what was read.
    fn get(&self, bucket: &str, key: &str) -> Result<Box<dyn Read + Send>, EffectError>;

    /// `PutObject`: stores `body` whole under `key` (a backtest's results).
    fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), EffectError>;
}

/// The SDK adapter.
pub struct AwsS3 {
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for AwsS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsS3").finish_non_exhaustive()
    }
}

impl AwsS3 {
    /// A client from the SDK's usual environment (profile, region,
    /// `AWS_ENDPOINT_URL`). With an endpoint of its own (an emulator, an
    /// S3-compatible store) buckets are addressed by path, not by host
    /// name. The SDK's retries are off: replay retries, with backoff, the
    /// whole read of an object, which also covers a body cut short.
    pub fn from_env() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let sdk = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .load(),
        );
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Ok(AwsS3 {
            client: aws_sdk_s3::Client::from_conf(config),
            runtime,
        })
    }

    /// A client of the given configuration (tests: an emulator's endpoint).
    pub fn new(config: aws_sdk_s3::Config) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(AwsS3 {
            client: aws_sdk_s3::Client::from_conf(config),
            runtime,
        })
    }
}

impl ObjectStore for AwsS3 {
    fn list(&self, bucket: &str, prefix: &str) -> Result<Listing, EffectError> {
        self.runtime.block_on(async {
            let mut listing = Listing::default();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .delimiter("/")
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| super::aws::classify("s3:ListBucket", e))?;
                listing.folders.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned)),
                );
                listing
                    .objects
                    .extend(page.contents().iter().filter_map(|o| {
                        Some(Object {
                            key: o.key()?.to_owned(),
                            size: o.size().unwrap_or(0).max(0) as u64,
                        })
                    }));
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                    _ => return Ok(listing),
                }
            }
        })
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Box<dyn Read + Send>, EffectError> {
        let answer = self
            .runtime
            .block_on(self.client.get_object().bucket(bucket).key(key).send())
            .map_err(|e| super::aws::classify("s3:GetObject", e))?;
        Ok(Box::new(Body {
            stream: answer.body,
            chunk: Bytes::new(),
            runtime: self.runtime.handle().clone(),
        }))
    }

    fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), EffectError> {
        self.runtime
            .block_on(
                self.client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from(body))
                    .send(),
            )
            .map_err(|e| super::aws::classify("s3:PutObject", e))?;
        Ok(())
    }
}

/// An object's bytes as they arrive: one chunk held at a time.
struct Body {
    stream: ByteStream,
    chunk: Bytes,
    runtime: tokio::runtime::Handle,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.try_next()) {
                Ok(Some(chunk)) => self.chunk = chunk,
                Ok(None) => return Ok(0),
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        DisplayErrorContext(e).to_string(),
                    ));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

/// Says what a failed S3 call means for a replay, in words for a person.
pub fn describe(e: &EffectError) -> String {
    match (e.code.as_deref(), e.kind) {
        (Some("NoSuchBucket"), _) => "the bucket does not exist (NoSuchBucket)".into(),
        (Some("NoSuchKey"), _) => "the object does not exist (NoSuchKey)".into(),
        (_, ErrorKind::AccessDenied) => format!(
            "access denied ({}); the credentials in use may not {}",
            e.code.as_deref().unwrap_or("403"),
            e.operation
        ),
        _ => e.to_string(),
    }
}
