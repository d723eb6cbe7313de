//! The inputs named on a command line, expanded: stdin, files, and
//! directories walked for event files (CloudTrail digest files set aside).

use std::path::{Path, PathBuf};

use super::input::InputError;

/// One input named on the command line, expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
    /// A CloudTrail digest file met in a directory walk (by its key
    /// layout): not read, counted as skipped.
    Digest(PathBuf),
    /// An object of an S3 bucket, `size` bytes as stored.
    S3 {
        bucket: String,
        key: String,
        size: u64,
    },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File(p) | Input::Digest(p) => p.display().to_string(),
            Input::S3 { bucket, key, .. } => super::archive::S3Url::key_url(bucket, key),
        }
    }
}

/// File names a directory walk (or an S3 listing) picks up; named files
/// are always read.
pub fn looks_like_events(name: &str) -> bool {
    !name.starts_with('.')
        && [
            ".json",
            ".json.gz",
            ".jsonl",
            ".ndjson",
            ".jsonl.gz",
            ".ndjson.gz",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Is this the key of a CloudTrail digest file
/// (`AWSLogs/ACCOUNT/CloudTrail-Digest/REGION/...`, named
/// `ACCOUNT_CloudTrail-Digest_REGION_...json.gz`)?
pub fn is_digest_path(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.contains("_CloudTrail-Digest_")
        || path
            .components()
            .any(|c| c.as_os_str() == "CloudTrail-Digest")
}

/// Expands paths: `-` is stdin, directories are walked recursively in name
/// order, following symbolic links (a link back to a directory being
/// walked is an error naming it, as is a broken link). A path that does not
/// exist is an error naming it. Digest files met in a walk are
/// [`Input::Digest`], not read.
pub fn expand(paths: &[PathBuf]) -> Vec<Result<Input, InputError>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Ok(Input::Stdin));
        } else if path.is_dir() {
            let walk = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name();
            for entry in walk {
                match entry {
                    Ok(e)
                        if e.file_type().is_file()
                            && looks_like_events(&e.file_name().to_string_lossy()) =>
                    {
                        out.push(Ok(if is_digest_path(e.path()) {
                            Input::Digest(e.into_path())
                        } else {
                            Input::File(e.into_path())
                        }))
                    }
                    Ok(_) => {}
                    Err(e) => out.push(Err(walk_error(e, path))),
                }
            }
        } else if path.exists() {
            out.push(Ok(Input::File(path.clone())));
        } else {
            out.push(Err(InputError::Read {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            }));
        }
    }
    out
}

/// A directory walk's error, naming the path it is about.
fn walk_error(e: walkdir::Error, root: &Path) -> InputError {
    let path = e.path().unwrap_or(root).display().to_string();
    let source = match e.loop_ancestor() {
        Some(ancestor) => std::io::Error::other(format!(
            "symbolic link loop: it leads back to `{}`, already being walked",
            ancestor.display()
        )),
        None => e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other("cannot walk the directory")),
    };
    InputError::Read { path, source }
}
