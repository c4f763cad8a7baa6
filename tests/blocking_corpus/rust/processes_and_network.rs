//! Processes, sockets, stdin, HTTP and nested runtimes in async code.
use std::io::{self, BufRead, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;

use futures::executor::block_on;

pub async fn run_git() -> io::Result<()> {
    let out = Command::new("git").arg("status").output()?; // expect: rs-std-process
    let mut cmd = Command::new("make");
    cmd.arg("-j2").current_dir("build");
    let status = cmd.status()?; // expect: rs-std-process
    let mut child = Command::new("sleep").arg("1").spawn()?;
    child.wait()?; // expect: rs-std-process
    let fine = tokio::process::Command::new("git").output().await?;
    drop((out, status, fine));
    Ok(())
}

pub async fn talk(host: &str, stream: &mut TcpStream) -> io::Result<()> {
    let mut socket = TcpStream::connect(host)?; // expect: rs-std-net
    socket.write_all(b"ping")?; // expect: rs-std-net
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply)?; // expect: rs-std-net
    let addrs: Vec<_> = (host, 80).to_socket_addrs()?.collect(); // expect: rs-dns-lookup
    let ok = tokio::net::TcpStream::connect(host).await?;
    let resolved = tokio::net::lookup_host(host).await?;
    drop((addrs, ok, resolved));
    Ok(())
}

pub async fn ask() -> io::Result<String> {
    let mut line = String::new();
    io::stdin().read_line(&mut line)?; // expect: rs-stdin
    for next in io::stdin().lock().lines() { // expect: rs-stdin
        line.push_str(&next?);
    }
    Ok(line)
}

pub async fn http(url: &str) -> Result<String, reqwest::Error> {
    let body = reqwest::blocking::get(url)?.text()?; // expect: rs-reqwest-blocking
    let client = reqwest::blocking::Client::new(); // expect: rs-reqwest-blocking
    let response = client.get(url).send()?; // expect: rs-reqwest-blocking
    let async_client = reqwest::Client::new();
    let fine = async_client.get(url).send().await?.text().await?;
    drop(response);
    Ok(body + &fine)
}

pub async fn nested_runtimes() {
    let value = block_on(async { 1 }); // expect: rs-block-on
    let handle = tokio::runtime::Handle::current();
    handle.block_on(async { 2 }); // expect: rs-block-on
    let also_fine = tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(async { 3 })
    });
    drop((value, also_fine));
}

pub fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(nested_runtimes());
    block_on(async {});
}
