//! A minimal Lambda Runtime API on loopback, enough to time a function's
//! cold start: it hands out one invocation and notes when the function
//! first polls for work, when it answers, and when it polls again.
//!
//! Paths served (HTTP/1.1, keep-alive, `Content-Length` or chunked bodies):
//! `GET /2018-06-01/runtime/invocation/next`,
//! `POST /2018-06-01/runtime/invocation/{id}/response` and `.../error`,
//! `POST /2018-06-01/runtime/init/error`, and the extension API's
//! `POST /2020-01-01/extension/register` and `GET .../event/next` (held
//! open) for functions that register an internal extension.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the function did, with when it did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET .../invocation/next`; `n` counts from 1.
    Next {
        n: u32,
    },
    /// `POST .../response`, with its body.
    Response(Vec<u8>),
    /// `POST .../error` or `.../init/error`, with its body.
    Error {
        init: bool,
        body: Vec<u8>,
    },
    ExtensionRegister,
}

/// A running fake Runtime API.
pub struct RuntimeApi {
    port: u16,
    events: Receiver<(Instant, Call)>,
}

struct Shared {
    payload: Vec<u8>,
    polls: Mutex<u32>,
    tx: Sender<(Instant, Call)>,
}

impl RuntimeApi {
    /// Binds `127.0.0.1` on a free port; the one invocation carries `payload`.
    pub fn start(payload: Vec<u8>) -> io::Result<RuntimeApi> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let (tx, events) = mpsc::channel();
        let shared = Arc::new(Shared {
            payload,
            polls: Mutex::new(0),
            tx,
        });
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
        });
        Ok(RuntimeApi { port, events })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The next thing the function did, or `None` after `timeout`.
    pub fn next_call(&self, timeout: Duration) -> Option<(Instant, Call)> {
        self.events.recv_timeout(timeout).ok()
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size_text = line.trim_end().split(';').next().unwrap_or("0");
            let size = usize::from_str_radix(size_text, 16).unwrap_or(0);
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, path, body }))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Holds a long poll open until the function's process goes away.
fn hold(stream: &mut TcpStream) {
    let mut sink = [0u8; 64];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let now = Instant::now();
        let send = |call| {
            let _ = shared.tx.send((now, call));
        };
        let p = req.path.as_str();
        match (req.method.as_str(), p) {
            ("GET", "/2018-06-01/runtime/invocation/next") => {
                let n = {
                    let mut polls = shared.polls.lock().unwrap_or_else(PoisonError::into_inner);
                    *polls += 1;
                    *polls
                };
                send(Call::Next { n });
                if n > 1 {
                    hold(&mut writer);
                    return Ok(());
                }
                let deadline = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
                    + 30_000;
                respond(
                    &mut writer,
                    "200 OK",
                    &[
                        ("content-type", "application/json".into()),
                        ("lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into()),
                        ("lambda-runtime-deadline-ms", deadline.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:111122223333:function:trailguard-bench".into(),
                        ),
                        (
                            "lambda-runtime-trace-id",
                            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0".into(),
                        ),
                    ],
                    &shared.payload,
                )?;
            }
            ("POST", _)
                if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/response") =>
            {
                send(Call::Response(req.body));
                respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
            }
            ("POST", _)
                if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/error") =>
            {
                send(Call::Error {
                    init: false,
                    body: req.body,
                });
                respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
            }
            ("POST", "/2018-06-01/runtime/init/error") => {
                send(Call::Error {
                    init: true,
                    body: req.body,
                });
                respond(&mut writer, "202 Accepted", &[], br#"{"status":"OK"}"#)?;
            }
            ("POST", "/2020-01-01/extension/register") => {
                send(Call::ExtensionRegister);
                respond(
                    &mut writer,
                    "200 OK",
                    &[("lambda-extension-identifier", "c1ab2c3d-0000-4000-8000-000000000001".into())],
                    br#"{"functionName":"trailguard-bench","functionVersion":"$LATEST","handler":"bootstrap"}"#,
                )?;
            }
            ("GET", "/2020-01-01/extension/event/next") => {
                hold(&mut writer);
                return Ok(());
            }
            _ => respond(&mut writer, "404 Not Found", &[], b"{}")?,
        }
    }
    Ok(())
}
