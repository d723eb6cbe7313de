//! Replay from S3: the objects under an `s3://BUCKET/PREFIX` URL, listed
//! folder by folder in the order a local walk of the same keys gives,
//! pruned by CloudTrail's key layout; and one object read with retries.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::effects::EffectError;
use crate::effects::s3::{ObjectStore, describe};
use crate::event::archive::{self, Descend, KeyKind, Prune, S3Url};
use crate::event::input::{self, InputError};
use crate::event::paths::Input;

/// How throttled (`SlowDown`) and failed (5xx, a body cut short) reads are
/// tried again: `attempts` in all, waiting `first_delay`, then twice as
/// long each time, at most [`MAX_DELAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first_delay: Duration,
}

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

impl Default for Backoff {
    /// Six attempts over about six seconds, as S3 asks of a `SlowDown`.
    fn default() -> Self {
        Backoff {
            attempts: 6,
            first_delay: Duration::from_millis(200),
        }
    }
}

impl Backoff {
    fn delay(&self, retry: u32) -> Duration {
        self.first_delay
            .saturating_mul(1 << retry.min(16))
            .min(MAX_DELAY)
    }

    /// Runs `call` until it succeeds, fails for good, or attempts run out.
    pub(super) fn run<T>(
        &self,
        mut call: impl FnMut() -> Result<T, EffectError>,
    ) -> Result<T, EffectError> {
        let mut retry = 0;
        loop {
            match call() {
                Err(e) if e.is_retryable() && retry + 1 < self.attempts => {
                    std::thread::sleep(self.delay(retry));
                    retry += 1;
                }
                other => return other,
            }
        }
    }
}

/// The store replay reads `s3://` inputs through, and its patience.
#[derive(Clone, Copy)]
pub struct S3Source<'a> {
    pub store: &'a dyn ObjectStore,
    pub backoff: Backoff,
}

impl std::fmt::Debug for S3Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Source")
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

fn read_error(path: String, message: String) -> InputError {
    InputError::Read {
        path,
        source: io::Error::other(message),
    }
}

/// Why a GET failed, as the store said it: inside the `io::Error` of the
/// [`InputError::Read`] that [`fetch`] returns (its text is the message),
/// so that a caller can tell a bucket that is not there, or refused, from
/// one missing object ([`refusal`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct GetRefused {
    pub error: EffectError,
    message: String,
}

/// What the store said of a failed [`fetch`], if it said anything.
pub fn refusal(e: &InputError) -> Option<&EffectError> {
    match e {
        InputError::Read { source, .. } => source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<GetRefused>())
            .map(|r| &r.error),
        _ => None,
    }
}

/// Reads one object whole into `buf`, gunzipped as it arrives, at most
/// `max` bytes once decompressed. A GET that fails for a reason worth a
/// retry, or a body that breaks off, is read again from the start.
pub fn fetch(
    source: &S3Source<'_>,
    bucket: &str,
    key: &str,
    size: u64,
    buf: &mut Vec<u8>,
    max: u64,
) -> Result<(), InputError> {
    let name = S3Url::key_url(bucket, key);
    let mut retry = 0;
    loop {
        let body = source
            .backoff
            .run(|| source.store.get(bucket, key))
            .map_err(|e| InputError::Read {
                path: name.clone(),
                source: io::Error::other(GetRefused {
                    message: describe(&e),
                    error: e,
                }),
            })?;
        match input::read_capped(body, size, &name, buf, max) {
            Err(InputError::Read { source: e, .. })
                if e.kind() == io::ErrorKind::ConnectionAborted
                    && retry + 1 < source.backoff.attempts =>
            {
                std::thread::sleep(source.backoff.delay(retry));
                retry += 1;
            }
            other => return other,
        }
    }
}

/// What is left to look at, deepest last.
#[derive(Debug)]
enum Entry {
    /// A folder to descend into (a prefix ending in `/`, or empty).
    Folder(String),
    /// A prefix that ends inside a name: list what starts with it.
    Partial(String),
    Ready(Input),
}

/// The inputs under one `s3://` URL, listed as they are needed: one
/// folder's listing is held at a time per level, whatever the archive's size.
pub struct Objects<'a> {
    source: S3Source<'a>,
    bucket: String,
    prune: Prune,
    stack: Vec<Entry>,
}

impl<'a> Objects<'a> {
    /// The objects under `url` that `prune` can match.
    pub fn new(source: S3Source<'a>, url: S3Url, prune: Prune) -> Self {
        let start = if url.prefix.is_empty() || url.prefix.ends_with('/') {
            Entry::Folder(url.prefix)
        } else {
            Entry::Partial(url.prefix)
        };
        Objects {
            source,
            bucket: url.bucket,
            prune,
            stack: vec![start],
        }
    }

    /// Lists `prefix` and stacks what it holds, first entry on top.
    fn expand(&mut self, prefix: &str, named: bool) -> Result<(), InputError> {
        let (store, bucket) = (self.source.store, self.bucket.as_str());
        let listing = self.source.backoff.run(|| store.list(bucket, prefix));
        let listing = listing.map_err(|e| {
            let url = S3Url::key_url(bucket, prefix);
            // The same answer would come for every other folder: say it once.
            if e.is_not_found() || e.kind == crate::effects::ErrorKind::AccessDenied {
                self.stack.clear();
            }
            read_error(url, format!("cannot list it: {}", describe(&e)))
        })?;
        // `s3://bucket/path/file.json.gz` names that object, read whatever its name.
        if named && let Some(o) = listing.objects.iter().find(|o| o.key == prefix) {
            self.stack.push(Entry::Ready(Input::S3 {
                bucket: bucket.to_owned(),
                key: o.key.clone(),
                size: o.size,
            }));
            return Ok(());
        }
        let mut entries: Vec<(String, Entry)> = Vec::new();
        for folder in listing.folders {
            if archive::keeps_folder(&folder, &self.prune) {
                let name = folder.trim_end_matches('/').to_owned();
                entries.push((name, Entry::Folder(folder)));
            }
        }
        for o in listing.objects {
            let input = match archive::classify_key(&o.key, &self.prune) {
                KeyKind::Events => Input::S3 {
                    bucket: bucket.to_owned(),
                    key: o.key.clone(),
                    size: o.size,
                },
                KeyKind::Digest => Input::Digest(PathBuf::from(S3Url::key_url(bucket, &o.key))),
                KeyKind::Other => continue,
            };
            entries.push((o.key, Entry::Ready(input)));
        }
        entries.sort_by(|a, b| archive::walk_order(&b.0, &a.0));
        self.stack.extend(entries.into_iter().map(|(_, e)| e));
        Ok(())
    }
}

impl Iterator for Objects<'_> {
    type Item = Result<Input, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let listed = match self.stack.pop()? {
                Entry::Ready(input) => return Some(Ok(input)),
                Entry::Partial(prefix) => self.expand(&prefix, true),
                Entry::Folder(folder) => match archive::descend(&folder, &self.prune) {
                    Descend::Skip => Ok(()),
                    Descend::List => self.expand(&folder, false),
                    Descend::Only(mut children) => {
                        children.sort_by(|a, b| archive::walk_order(b, a));
                        self.stack.extend(children.into_iter().map(Entry::Folder));
                        Ok(())
                    }
                },
            };
            if let Err(e) = listed {
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), Duration::from_millis(200));
        assert_eq!(b.delay(2), Duration::from_millis(800));
        assert_eq!(b.delay(30), MAX_DELAY);
    }
}
