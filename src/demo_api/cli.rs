//! The `demo_api` command line and process life: bind a loopback port, print
//! the base URL as the first line of stdout, serve until SIGINT/SIGTERM (or,
//! with `--exit-on-stdin-eof`, until stdin closes, so a test harness that
//! dies takes its server with it).

use super::{DemoConfig, bind, serve};
use crate::cli::parse_args;
use crate::exit::Exit;
use clap::Parser;
use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The binary's name.
pub(crate) const NAME: &str = "demo_api";

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

/// The whole life of `demo_api`; `args` starts with the program name.
pub(crate) fn main(args: Vec<OsString>) -> Exit {
    let cli: DemoCli = match parse_args(NAME, args) {
        Ok(cli) => cli,
        Err(exit) => return exit,
    };
    crate::app::block_on(crate::app::Scheduler::MultiThread, async {
        let listener = match bind(SocketAddr::new(cli.host, cli.port)).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("{NAME}: cannot listen: {error}");
                return Exit::SomeFailed;
            }
        };
        if let Ok(addr) = listener.local_addr() {
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "http://{addr}");
            let _ = stdout.flush();
            eprintln!("{NAME}: serving on http://{addr} (GET / lists the endpoints)");
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
                signal(SignalKind::hangup()),
            ) {
                (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                        _ = hangup.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            result = serve(listener, config) => {
                if let Err(error) = result {
                    eprintln!("{NAME}: {error}");
                    return Exit::SomeFailed;
                }
            }
            _ = stdin_closed => {}
            _ = interrupted => {}
        }
        Exit::Success
    })
}
