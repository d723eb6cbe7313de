//! The archive a command reads: local paths (expanded at once, their
//! errors said first) and `s3://BUCKET/PREFIX` URLs (listed as the reading
//! needs them, pruned by the filters), in the order given. Shared by
//! `replay` and `policy`.

use std::fmt::Display;
use std::path::PathBuf;

use crate::effects::s3::AwsS3;
use crate::event::archive::{Prune, S3Url};
use crate::event::input::InputError;
use crate::event::paths::{Input, expand};
use crate::replay::{Backoff, Objects, S3Source};

/// Inputs, as listed when they are needed: an `Err` is reported in its place.
pub type Listed<'a> = Box<dyn Iterator<Item = Result<Input, InputError>> + Send + 'a>;

/// The paths and URLs of a command line, with the S3 client when a URL is
/// among them.
pub struct Archive {
    paths: Vec<PathBuf>,
    urls: Vec<Option<S3Url>>,
    store: Option<AwsS3>,
}

impl Archive {
    /// Reads the command line's paths; a malformed `s3://` URL is an error
    /// (a usage error), and so is an S3 client that cannot start.
    pub fn open(paths: &[PathBuf]) -> Result<Self, String> {
        let mut urls = Vec::with_capacity(paths.len());
        for path in paths {
            match path.to_str().and_then(S3Url::parse) {
                Some(Ok(url)) => urls.push(Some(url)),
                Some(Err(e)) => return Err(e.to_string()),
                None => urls.push(None),
            }
        }
        let store = if urls.iter().any(Option::is_some) {
            Some(AwsS3::from_env().map_err(|e| format!("cannot start the S3 client: {e}"))?)
        } else {
            None
        };
        Ok(Archive {
            paths: paths.to_vec(),
            urls,
            store,
        })
    }

    /// Is any input in S3 (then reading waits on the network)?
    pub fn reads_s3(&self) -> bool {
        self.store.is_some()
    }

    /// What reads the `s3://` inputs, when there are some.
    pub fn source(&self) -> Option<S3Source<'_>> {
        self.store.as_ref().map(|store| S3Source {
            store,
            backoff: Backoff::default(),
        })
    }

    /// The inputs in order: local paths expanded now (each error handed to
    /// `report`), S3 URLs listed later through `source`, pruned by `prune`.
    pub fn inputs<'a>(
        &'a self,
        source: Option<S3Source<'a>>,
        prune: &Prune,
        report: &mut dyn FnMut(&dyn Display),
    ) -> Listed<'a> {
        let mut parts: Vec<Listed<'a>> = Vec::new();
        for (path, url) in self.paths.iter().zip(&self.urls) {
            match (url, source) {
                (Some(url), Some(source)) => {
                    parts.push(Box::new(Objects::new(source, url.clone(), prune.clone())));
                }
                _ => {
                    let mut local = Vec::new();
                    for input in expand(std::slice::from_ref(path)) {
                        match input {
                            Ok(i) => local.push(Ok(i)),
                            Err(e) => report(&e),
                        }
                    }
                    parts.push(Box::new(local.into_iter()));
                }
            }
        }
        Box::new(parts.into_iter().flatten())
    }
}
