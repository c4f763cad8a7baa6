//! A keep-alive HTTP/1.1 server on 127.0.0.1 that counts the connections it
//! accepts: for what the client's connection pool must do (reuse an idle
//! connection; never one whose exchange was cut short, which may still
//! carry the rest of an old answer; let go of one the server closes).
//!
//! A thread a connection answers its requests in turn, each as the handler
//! says. The server stops accepting after [`raw_server::MAX_CONNECTIONS`],
//! after [`raw_server::LIFETIME`], or when dropped; it closes a connection
//! the client closes or leaves idle for its patience (10 s unless told), as
//! servers end idle keep-alive connections, without a word.

use super::raw_server::{self, RawRequest};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the server answers one request.
pub struct Answer {
    /// Sent as `application/json`, with its `Content-Length`.
    pub body: Vec<u8>,
    /// Waited before the answer is written.
    pub delay: Duration,
    /// Says `Connection: close` and closes after the answer.
    pub close: bool,
    /// Answers as soon as the request's head is read, and reads its body
    /// only after `delay` (as a server refusing an upload may).
    pub early: bool,
}

impl Answer {
    /// `body` at once, the connection kept open.
    pub fn json(body: &str) -> Self {
        Answer {
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            close: false,
            early: false,
        }
    }
}

type Handler = dyn Fn(&RawRequest) -> Answer + Send + Sync;

/// A running keep-alive server; stops accepting when dropped.
pub struct KeepAliveServer {
    pub url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KeepAliveServer {
    pub fn start(handler: impl Fn(&RawRequest) -> Answer + Send + Sync + 'static) -> Self {
        Self::closing_idle_after(Duration::from_secs(10), handler)
    }

    /// A server that closes a connection idle for `patience`.
    pub fn closing_idle_after(
        patience: Duration,
        handler: impl Fn(&RawRequest) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || accept(listener, handler, patience, &accepted, &stop))
        };
        KeepAliveServer {
            url,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for KeepAliveServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(
    listener: TcpListener,
    handler: Arc<Handler>,
    patience: Duration,
    accepted: &AtomicUsize,
    stop: &AtomicBool,
) {
    let started = Instant::now();
    while accepted.load(Ordering::SeqCst) < raw_server::MAX_CONNECTIONS
        && started.elapsed() < raw_server::LIFETIME
        && !stop.load(Ordering::SeqCst)
    {
        match listener.accept() {
            Ok((stream, _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                std::thread::spawn(move || serve(stream, &*handler, patience));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler, patience: Duration) {
    let mut requests = Requests {
        stream,
        pending: Vec::new(),
    };
    if requests.stream.set_read_timeout(Some(patience)).is_err() {
        return;
    }
    while let Some((request, length)) = requests.head() {
        let answer = handler(&request);
        let answered = if answer.early {
            requests.answer(&answer).is_some() && {
                std::thread::sleep(answer.delay);
                requests.skip(length).is_some()
            }
        } else {
            requests.skip(length).is_some() && {
                std::thread::sleep(answer.delay);
                requests.answer(&answer).is_some()
            }
        };
        if !answered || answer.close {
            return;
        }
    }
}

/// The requests of one connection, read as they come: bytes read past one
/// request's end are the next one's.
struct Requests {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Requests {
    /// The next request's head, and its body's `Content-Length`.
    fn head(&mut self) -> Option<(RawRequest, usize)> {
        let end = loop {
            if let Some(at) = self
                .pending
                .windows(4)
                .position(|window| window == b"\r\n\r\n")
            {
                break at + 4;
            }
            if self.pending.len() > 1 << 20 {
                return None;
            }
            self.fill()?;
        };
        let raw: Vec<u8> = self.pending.drain(..end).collect();
        let head = String::from_utf8_lossy(&raw).into_owned();
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|header| header.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect();
        let request = RawRequest { raw, line, headers };
        let length = request
            .header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        Some((request, length))
    }

    /// Reads and drops `length` bytes of body.
    fn skip(&mut self, mut length: usize) -> Option<()> {
        loop {
            let here = length.min(self.pending.len());
            self.pending.drain(..here);
            length -= here;
            if length == 0 {
                return Some(());
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 65536];
        let read = self.stream.read(&mut chunk).ok()?;
        if read == 0 {
            return None;
        }
        self.pending.extend_from_slice(&chunk[..read]);
        Some(())
    }

    fn answer(&mut self, answer: &Answer) -> Option<()> {
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            answer.body.len()
        );
        if answer.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).ok()?;
        self.stream.write_all(&answer.body).ok()
    }
}
