//! A raw HTTP/1.1 server on 127.0.0.1, for what `demo_api` cannot do: echo
//! the exact bytes a request arrived as (the request line and headers as
//! sent, before any parser decodes them), reflect a value where a server
//! should not put it (a header name, an encoded body), close a connection
//! before answering, or send a header no sane server sends.
//!
//! One thread answers one connection at a time, `Connection: close` each, and
//! records every request it read. It stops after [`MAX_CONNECTIONS`], after
//! [`LIFETIME`], or when the server is dropped: a test can fail, never hang.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections one server answers before it stops listening.
pub const MAX_CONNECTIONS: usize = 64;
/// How long one server listens at most.
pub const LIFETIME: Duration = Duration::from_secs(60);

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The request line, the header lines and the body, byte for byte.
    pub raw: Vec<u8>,
    /// `GET /path?query HTTP/1.1`.
    pub line: String,
    /// Header names as sent, values as text (lossy for non-UTF-8 bytes).
    pub headers: Vec<(String, String)>,
}

impl RawRequest {
    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(found, _)| found.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A request from the bytes read so far: its head is `raw[..head_end]`
    /// (the blank line included); body bytes may follow.
    pub fn from_head(raw: Vec<u8>, head_end: usize) -> Self {
        let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or("").to_string();
        let headers = lines
            .filter_map(|header| header.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect();
        RawRequest { raw, line, headers }
    }

    /// The `Content-Length` it declares (0 if none).
    pub fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    /// The whole request as text (lossy for non-UTF-8 bytes).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// What the server does with a request.
pub enum Reply {
    /// Writes these bytes (a whole response; see [`response`]), then closes.
    Bytes(Vec<u8>),
    /// Closes the connection without a byte of response.
    Close,
}

/// A running raw server; stops when dropped.
pub struct RawServer {
    pub url: String,
    seen: Arc<Mutex<Vec<RawRequest>>>,
    _acceptor: Acceptor,
}

/// The accepting thread of a test server on 127.0.0.1: hands each
/// connection to `on_connection`, and stops after [`MAX_CONNECTIONS`], after
/// [`LIFETIME`], or when dropped.
pub struct Acceptor {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    pub fn start(mut on_connection: impl FnMut(TcpStream) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut accepted = 0;
                while accepted < MAX_CONNECTIONS
                    && started.elapsed() < LIFETIME
                    && !stop.load(Ordering::SeqCst)
                {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted += 1;
                            on_connection(stream);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Acceptor {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A complete `Connection: close` response with a `Content-Length`.
/// `headers` are written as given, so a test can send any name or value.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

impl RawServer {
    /// A server that answers every request with `handler`'s reply.
    pub fn start(handler: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let seen = seen.clone();
            Acceptor::start(move |stream| {
                if let Some(request) = read_request(&stream) {
                    seen.lock().unwrap().push(request.clone());
                    answer(stream, handler(&request));
                }
            })
        };
        RawServer {
            url: acceptor.url.clone(),
            seen,
            _acceptor: acceptor,
        }
    }

    /// A server that answers `200 OK`, `text/plain`, with the request itself,
    /// byte for byte.
    pub fn echo() -> Self {
        Self::start(|request| {
            Reply::Bytes(response(
                "200 OK",
                &[("Content-Type", "text/plain; charset=utf-8")],
                &request.raw,
            ))
        })
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Every request read so far, in order.
    pub fn requests(&self) -> Vec<RawRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(mut stream: TcpStream, reply: Reply) {
    match reply {
        Reply::Bytes(bytes) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Write);
            // Let the client read the response before the socket goes away
            // (closing with unread request bytes would reset it).
            let mut rest = [0u8; 1024];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            while matches!(stream.read(&mut rest), Ok(n) if n > 0) {}
        }
        Reply::Close => {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Reads one request head and its `Content-Length` body (at most 1 MiB).
fn read_request(mut stream: &TcpStream) -> Option<RawRequest> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if raw.len() > 1 << 20 {
            return None;
        }
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..read]);
    };
    let mut request = RawRequest::from_head(raw, head_end);
    let length = request.content_length().min(1 << 20);
    while request.raw.len() < head_end + length {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            break;
        }
        request.raw.extend_from_slice(&chunk[..read]);
    }
    Some(request)
}
