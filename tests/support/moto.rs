//! A moto server (`python3 -m moto.server`) on a free loopback port, started
//! by the test itself and stopped when the handle is dropped.
//!
//! Each test gets its own server, so tests run in parallel without sharing
//! IAM state. The server also exits when the test process goes away
//! however it ends (it watches its stdin, a pipe from the test process).
//! `TRAILGUARD_PYTHON` names the interpreter (default `python3`).

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Static test credentials; moto accepts any.
pub const ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

/// The Python that runs moto: exits when stdin closes (the test process is
/// gone), then serves.
const LAUNCHER: &str = r#"
import os, sys, threading
def watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
import moto.server
if os.environ.get("TRAILGUARD_MOTO_SERIAL"):
    # One request at a time: moto's DynamoDB checks a write's condition and
    # stores the item without a lock, so concurrent conditional writes can
    # both succeed, which DynamoDB never lets happen.
    serve = moto.server.run_simple
    moto.server.run_simple = lambda *a, **k: serve(*a, **{**k, "threaded": False})
moto.server.main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"#;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto and waits until it answers. Panics with what to install
    /// when moto is not available.
    pub fn start() -> Moto {
        Self::launch(false)
    }

    /// [`Moto::start`], serving one request at a time, for tests of
    /// concurrent conditional writes (see the launcher).
    pub fn start_serial() -> Moto {
        Self::launch(true)
    }

    fn launch(serial: bool) -> Moto {
        let python = std::env::var("TRAILGUARD_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = free_port();
        let child = Command::new(&python)
            .arg("-c")
            .arg(LAUNCHER)
            .arg(port.to_string())
            // AWS managed policies (ReadOnlyAccess...) exist only with this.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env(
                "TRAILGUARD_MOTO_SERIAL",
                if serial { "1" } else { "" },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `{python}`: {e}; the live tests need Python 3 with moto: pip install \"moto[server]\"")
            });
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        moto.wait_ready(port);
        moto
    }

    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let lines: Vec<&str> = err.lines().collect();
                let tail = lines[lines.len().saturating_sub(5)..].join("\n");
                panic!(
                    "moto server exited ({status}) before answering; install it with: pip install \"moto[server]\"\n{tail}"
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Listening; drain its log so a full pipe never blocks it.
                if let Some(mut e) = self.child.stderr.take() {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut e, &mut std::io::sink());
                    });
                }
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SDK configuration pointing at this server: static credentials,
    /// us-east-1, the SDK's standard retry.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                ACCESS_KEY, ACCESS_KEY, None, None, "moto",
            ))
            .load()
            .await
    }

    pub async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config().await)
    }

    /// Creates an S3 bucket (moto takes an unsigned path-style PUT), for
    /// CloudTrail trails.
    pub async fn create_bucket(&self, name: &str) {
        let status = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("moto answers")
            .status();
        assert!(status.is_success(), "create bucket: {status}");
    }
}

/// An SNS topic with an SQS queue subscribed to it: what the topic
/// publishes can be read back as the notification JSON e-mail and HTTP
/// subscribers get.
pub struct AlertQueue {
    pub topic_arn: String,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl AlertQueue {
    pub async fn create(moto: &Moto, topic: &str) -> AlertQueue {
        let sdk = moto.sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let created = sns.create_topic().name(topic).send().await.unwrap();
        let topic_arn = created.topic_arn().unwrap().to_owned();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{topic}-queue"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn =
            attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        AlertQueue {
            topic_arn,
            sqs,
            queue_url,
        }
    }

    /// The SNS notifications delivered since the last call.
    pub async fn drain(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let msgs = got.messages();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
