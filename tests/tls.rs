//! `async_requests` over TLS: a real rustls server on 127.0.0.1 with a
//! self-signed certificate made for the test (rcgen).
//!
//! The tool builds its TLS client only when an `https://` URL comes up (a
//! plain-HTTP run never reads the system's root certificates); these tests
//! check that the client built late still verifies certificates, honours
//! `--insecure`, and serves an `https://` hop of a redirect chain that began
//! on plain HTTP.

mod common;

use common::raw_server::{self, RawServer, Reply};
use common::tool;
use common::wire::RequestsDoc;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Connections one TLS server answers before it stops listening.
const MAX_CONNECTIONS: usize = 16;

/// A TLS server that answers every request `200 OK` with the body `secure`.
struct TlsServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsServer {
    fn start() -> TlsServer {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
            .expect("a self-signed certificate");
        let certs = vec![made.cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut answered = 0;
                while answered < MAX_CONNECTIONS
                    && started.elapsed() < Duration::from_secs(60)
                    && !stop.load(Ordering::SeqCst)
                {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            answered += 1;
                            serve_one(config.clone(), stream);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        TlsServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: the handshake, one request head, one response. A client
/// that refuses the certificate just ends the handshake.
fn serve_one(config: Arc<rustls::ServerConfig>, stream: std::net::TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let _ = tls.write_all(&raw_server::response(
        "200 OK",
        &[("Content-Type", "text/plain")],
        b"secure",
    ));
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn requests() -> common::Tool {
    tool("async_requests").args(["--no-progress", "--retries", "0"])
}

#[test]
fn https_with_insecure_reaches_a_self_signed_server() {
    let server = TlsServer::start();
    let out = requests()
        .args(["--insecure", "--body", "text"])
        .arg(server.url())
        .run();
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let doc: RequestsDoc = out.json();
    assert_eq!(doc.results[0].status, "ok");
    assert_eq!(doc.results[0].http_status, Some(200));
    assert_eq!(doc.results[0].text.as_deref(), Some("secure"));
}

#[test]
fn https_without_insecure_refuses_a_self_signed_certificate() {
    let server = TlsServer::start();
    let out = requests().arg(server.url()).run();
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let doc: RequestsDoc = out.json();
    let error = doc.results[0].error.as_ref().expect("an error");
    assert_eq!(error.kind, "tls", "{}", error.message);
}

#[test]
fn a_plain_http_redirect_to_https_is_followed_over_tls() {
    let tls = TlsServer::start();
    let target = tls.url();
    let plain = RawServer::start(move |_| {
        Reply::Bytes(raw_server::response(
            "302 Found",
            &[("Location", target.as_str())],
            b"",
        ))
    });
    let out = requests()
        .args(["--insecure", "--body", "text"])
        .arg(plain.at("/start"))
        .run();
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let doc: RequestsDoc = out.json();
    assert_eq!(doc.results[0].text.as_deref(), Some("secure"));
    assert_eq!(doc.results[0].redirects, Some(1));
}

#[test]
fn no_usable_root_certificates_fail_the_https_items_only_and_send_nothing() {
    let empty = tempfile::tempdir().unwrap();
    let plain = RawServer::start(|_| Reply::Bytes(raw_server::response("200 OK", &[], b"plain")));
    let out = requests()
        .env(
            "SSL_CERT_FILE",
            &empty.path().join("none.pem").display().to_string(),
        )
        .env("SSL_CERT_DIR", &empty.path().display().to_string())
        .arg("https://127.0.0.1:9/")
        .arg(plain.at("/"))
        .run();
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let doc: RequestsDoc = out.json();
    let error = doc.results[0].error.as_ref().expect("an error");
    assert_eq!(error.kind, "tls");
    assert!(
        error.message.contains("nothing was sent"),
        "{}",
        error.message
    );
    // The cause, not only reqwest's "builder error".
    assert!(error.message.matches(':').count() >= 3, "{}", error.message);
    assert_eq!(doc.results[1].status, "ok");
    assert_eq!(doc.summary.requests_sent, 1);
}
