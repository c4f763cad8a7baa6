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

type Handler = dyn Fn(&RawRequest) -> Reply + Send + Sync;

/// A running raw server; stops when dropped.
pub struct RawServer {
    pub url: String,
    seen: Arc<Mutex<Vec<RawRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
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
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, &*handler, &seen, &stop))
        };
        RawServer {
            url,
            seen,
            stop,
            thread: Some(thread),
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

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    handler: &Handler,
    seen: &Mutex<Vec<RawRequest>>,
    stop: &AtomicBool,
) {
    let started = Instant::now();
    let mut answered = 0;
    while answered < MAX_CONNECTIONS && started.elapsed() < LIFETIME && !stop.load(Ordering::SeqCst)
    {
        match listener.accept() {
            Ok((stream, _)) => {
                answered += 1;
                if let Some(request) = read_request(&stream) {
                    seen.lock().unwrap().push(request.clone());
                    answer(stream, handler(&request));
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
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
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|header| header.split_once(':'))
        .map(|(name, value)| (name.to_string(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    while raw.len() < head_end + length {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..read]);
    }
    Some(RawRequest { raw, line, headers })
}
