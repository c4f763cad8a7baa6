//! A keep-alive HTTP/1.1 server on 127.0.0.1 that counts the connections it
//! accepts: for what the client's connection pool must do (reuse an idle
//! connection; never one whose exchange was cut short, which may still
//! carry the rest of an old answer; let go of one the server closes).
//!
//! A thread a connection answers its requests in turn, each as the handler
//! says. It stops accepting as every test server does ([`Acceptor`]); it
//! closes a connection the client closes or leaves idle for its patience
//! (10 s unless told), as servers end idle keep-alive connections, without a
//! word.

use super::raw_server::{Acceptor, RawRequest};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    _acceptor: Acceptor,
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
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let acceptor = {
            let accepted = accepted.clone();
            Acceptor::start(move |stream| {
                accepted.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                std::thread::spawn(move || serve(stream, &*handler, patience));
            })
        };
        KeepAliveServer {
            url: acceptor.url.clone(),
            accepted,
            _acceptor: acceptor,
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
        let request = RawRequest::from_head(self.pending.drain(..end).collect(), end);
        let length = request.content_length();
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
