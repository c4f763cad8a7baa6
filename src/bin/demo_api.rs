//! `demo_api`: the bundled loopback API for the demo, the tests and the
//! benchmarks. Prints its base URL (`http://127.0.0.1:PORT`) as the first line
//! of stdout, then serves until SIGINT/SIGTERM (or, with
//! `--exit-on-stdin-eof`, until its stdin closes: a test harness that dies
//! takes its server with it).

use async_patterns::demo_api::{DemoConfig, bind, serve};
use clap::Parser;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

/// A small HTTP API on 127.0.0.1 for trying the async-patterns tools offline.
#[derive(Parser, Debug)]
#[command(name = "demo_api", version)]
struct DemoCli {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Loopback address to bind (127.0.0.0/8 or ::1 only).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Multiply the seed endpoints' delays (1.2 s, 0.9 s, 1.1 s) by this (0 to 1000).
    #[arg(long, default_value_t = 1.0, value_parser = delay_scale)]
    delay_scale: f64,
    /// Exit when stdin reaches end of file.
    #[arg(long)]
    exit_on_stdin_eof: bool,
}

fn delay_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if (0.0..=1000.0).contains(&scale) => Ok(scale),
        _ => Err(format!("`{text}` is not a factor between 0 and 1000")),
    }
}

fn main() -> ExitCode {
    let cli = DemoCli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("demo_api: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match bind(SocketAddr::new(cli.host, cli.port)).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("demo_api: cannot listen: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Ok(addr) = listener.local_addr() {
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "http://{addr}");
            let _ = stdout.flush();
            eprintln!("demo_api: serving on http://{addr} (GET / lists the endpoints)");
        }
        let config = DemoConfig {
            delay_scale: cli.delay_scale,
        };
        let stdin_closed = async {
            if cli.exit_on_stdin_eof {
                let mut sink = Vec::new();
                let _ =
                    tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut sink).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let interrupted = async {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            result = serve(listener, config) => {
                if let Err(error) = result {
                    eprintln!("demo_api: {error}");
                    return ExitCode::FAILURE;
                }
            }
            _ = stdin_closed => {}
            _ = interrupted => {}
        }
        ExitCode::SUCCESS
    })
}
