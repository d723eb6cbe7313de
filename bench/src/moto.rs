//! moto's server on a free loopback port, started for a benchmark and
//! stopped when dropped: an S3 to replay from, filled with plain HTTP PUTs
//! (moto takes unsigned, path-style requests), the Lambda benchmark's SNS
//! topic, and the organisation benchmark's AWS (examples/org-bench.rs).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct MotoS3 {
    child: Child,
    pub port: u16,
}

impl MotoS3 {
    /// Is moto installed for `python3`?
    pub fn available() -> bool {
        Command::new("python3")
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts moto and waits until it answers.
    pub fn start() -> io::Result<MotoS3> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = MotoS3 { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other("moto did not start within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(moto)
    }

    /// Its endpoint, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `PUT /path` with `body`; an error unless moto answers 200.
    fn put(&self, path: &str, body: &[u8]) -> io::Result<()> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        write!(
            s,
            "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
        s.write_all(body)?;
        let mut reader = BufReader::new(s);
        let mut status = String::new();
        reader.read_line(&mut status)?;
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        if status.split_whitespace().nth(1) != Some("200") {
            return Err(io::Error::other(format!(
                "moto answered `{}` to PUT {path}",
                status.trim()
            )));
        }
        Ok(())
    }

    /// Creates an SNS topic (the Lambda benchmark's alerts); answers its ARN.
    pub fn create_topic(&self, name: &str) -> io::Result<String> {
        let body = format!("Action=CreateTopic&Version=2010-03-31&Name={name}");
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        write!(
            s,
            // moto tells services apart by the credential scope.
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        answer
            .split_once("<TopicArn>")
            .and_then(|(_, rest)| rest.split_once("</TopicArn>"))
            .map(|(arn, _)| arn.to_owned())
            .ok_or_else(|| io::Error::other(format!("moto answered CreateTopic with `{answer}`")))
    }

    /// Creates an empty bucket (a backtest's results).
    pub fn create_bucket(&self, bucket: &str) -> io::Result<()> {
        self.put(&format!("/{bucket}"), b"")
    }

    /// Creates `bucket` and uploads every file under `root` into it, keyed
    /// by its path relative to `root`; answers the number of objects.
    pub fn upload(&self, bucket: &str, root: &Path) -> io::Result<usize> {
        self.put(&format!("/{bucket}"), b"")?;
        let mut n = 0;
        for entry in walkdir::WalkDir::new(root.join("AWSLogs")).sort_by_file_name() {
            let entry = entry.map_err(io::Error::other)?;
            if !entry.file_type().is_file() {
                continue;
            }
            let key = entry
                .path()
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_string_lossy()
                .into_owned();
            self.put(&format!("/{bucket}/{key}"), &std::fs::read(entry.path())?)?;
            n += 1;
        }
        Ok(n)
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
