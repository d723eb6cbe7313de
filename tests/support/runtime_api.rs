//! A minimal AWS Lambda Runtime API on loopback: the test queues payloads,
//! the function polls `invocation/next`, and its answers are recorded.
//! HTTP/1.1 with keep-alive, which is what the runtime client speaks.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How the function answered one invocation.
#[derive(Debug, Clone)]
pub enum Answer {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    answers: Vec<(String, Answer)>,
    polls: usize,
    init_error: Option<Value>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let (s, c) = (state.clone(), changed.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone(), c.clone()));
            }
        });
        RuntimeApi {
            addr,
            state,
            changed,
        }
    }

    /// Queues an invocation; returns its request id.
    pub fn invoke(&self, payload: Value) -> String {
        self.invoke_raw(payload.to_string().into_bytes())
    }

    /// Queues an invocation whose body is these bytes, JSON or not.
    #[allow(dead_code)]
    pub fn invoke_raw(&self, payload: Vec<u8>) -> String {
        let mut st = self.state.lock().unwrap();
        let id = format!("req-{}", st.queue.len() + st.answers.len() + 1);
        st.queue.push_back((id.clone(), payload));
        drop(st);
        self.changed.notify_waiters();
        id
    }

    /// Waits for the answer to one invocation.
    pub async fn answer(&self, id: &str) -> Answer {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                {
                    let st = self.state.lock().unwrap();
                    if let Some((_, a)) = st.answers.iter().find(|(i, _)| i == id) {
                        return a.clone();
                    }
                    if let Some(e) = &st.init_error {
                        panic!("the function failed to start: {e}");
                    }
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .unwrap_or_else(|_| panic!("no answer to {id} within 120 s"))
    }

    /// How many times the function asked for the next invocation.
    pub fn polls(&self) -> usize {
        self.state.lock().unwrap().polls
    }
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>, changed: Arc<Notify>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let reply = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let (id, body) = next(&state, &changed).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:trailguard\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n",
                deadline_ms(),
                body.len()
            );
            [head.into_bytes(), body].concat()
        } else {
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let segments: Vec<&str> = path.split('/').collect();
            {
                let mut st = state.lock().unwrap();
                match segments.as_slice() {
                    [.., "invocation", id, "response"] => {
                        st.answers.push((id.to_string(), Answer::Response(value)))
                    }
                    [.., "invocation", id, "error"] => {
                        st.answers.push((id.to_string(), Answer::Error(value)))
                    }
                    [.., "init", "error"] => st.init_error = Some(value),
                    _ => {}
                }
            }
            changed.notify_waiters();
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n".to_vec()
        };
        if reader.get_mut().write_all(&reply).await.is_err() {
            return;
        }
    }
}

async fn next(state: &Mutex<State>, changed: &Notify) -> (String, Vec<u8>) {
    state.lock().unwrap().polls += 1;
    changed.notify_waiters();
    loop {
        let notified = changed.notified();
        if let Some(item) = state.lock().unwrap().queue.pop_front() {
            return item;
        }
        notified.await;
    }
}

fn deadline_ms() -> u128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now + Duration::from_secs(60)).as_millis()
}
