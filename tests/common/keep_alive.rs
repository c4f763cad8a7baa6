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
use std::io::Write;
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
}

impl Answer {
    /// `body` at once, the connection kept open.
    pub fn json(body: &str) -> Self {
        Answer {
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            close: false,
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

fn serve(mut stream: TcpStream, handler: &Handler, patience: Duration) {
    while let Some(request) = raw_server::read_request(&stream, patience) {
        let answer = handler(&request);
        std::thread::sleep(answer.delay);
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            answer.body.len()
        );
        if answer.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let written = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(&answer.body));
        if written.is_err() || answer.close {
            return;
        }
    }
}
