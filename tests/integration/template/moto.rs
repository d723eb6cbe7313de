//! A moto server of our own for one test, spoken to over AWS's JSON protocol.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `python3 -m moto.server` on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Moto {
    pub fn start() -> Moto {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let probe = Command::new(&python)
            .args(["-c", "import moto.server"])
            .output();
        match probe {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "moto's server is not installed for `{python}` (pip install \"moto[server]\"): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!("cannot run `{python}` to start moto: {e}"),
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// One call of a JSON-protocol API: `target` is e.g. `AWSEvents.PutRule`.
    pub fn call(&self, service: &str, target: &str, body: Value) -> Value {
        let content_type = match service {
            "sqs" => "application/x-amz-json-1.0",
            _ => "application/x-amz-json-1.1",
        };
        // moto routes on the credential scope; it does not check signatures.
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=0"
        );
        let request = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("Content-Type", content_type)
            .header("X-Amz-Target", target)
            .header("X-Amz-Date", "20260101T000000Z")
            .header("Authorization", auth)
            .body(body.to_string());
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{target}: {e}"));
            let status = response.status();
            let text = response.text().await.expect("a response body");
            assert!(status.is_success(), "{target} failed with {status}: {text}");
            if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{target} answered non-JSON ({e}): {text}"))
            }
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
