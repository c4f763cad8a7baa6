//! Sleeping and file I/O inside async code, under every `use` spelling.
use std::fs;
use std::thread;
use std::thread::sleep;
use std::thread as th;
use std::time::Duration;

pub async fn poll(interval: Duration) {
    thread::sleep(interval); // expect: rs-thread-sleep
    sleep(interval); // expect: rs-thread-sleep
    th::sleep(interval); // expect: rs-thread-sleep
    std::thread::sleep(interval); // expect: rs-thread-sleep
    ::std::thread::sleep(interval); // expect: rs-thread-sleep
    tokio::time::sleep(interval).await;
    std::thread::sleep(Duration::ZERO); // blocking: ok (yields on purpose)
}

pub async fn load(path: &str) -> std::io::Result<String> {
    let text = fs::read_to_string(path)?; // expect: rs-std-fs
    fs::write("out", &text)?; // expect: rs-std-fs
    let file = std::fs::File::open(path)?; // expect: rs-std-fs
    let meta = std::fs::metadata(path)?; // expect: rs-std-fs
    let lens: Vec<usize> = ["a", "b"]
        .iter()
        .map(|p| std::fs::read(p).map(|b| b.len()).unwrap_or(0)) // expect: rs-std-fs
        .collect();
    drop((file, meta, lens));
    Ok(text)
}

pub async fn handed_off(path: String) -> std::io::Result<Vec<u8>> {
    let copy = path.clone();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(copy)).await??;
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        std::fs::read_to_string(&path)
    });
    let later = || std::fs::read("later");
    tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(1)));
    drop((worker, later));
    Ok(bytes)
}

pub async fn nested_sync_fn() {
    fn helper() {
        std::thread::sleep(Duration::from_secs(1));
    }
    tokio::task::spawn_blocking(helper).await.ok();
}

pub fn sync_code() -> std::io::Result<String> {
    std::thread::sleep(Duration::from_millis(1));
    std::fs::read_to_string("config")
}

pub fn spawns_a_task() {
    tokio::spawn(async move {
        std::thread::sleep(Duration::from_secs(1)); // expect: rs-thread-sleep
    });
}

pub struct Cache;

impl Cache {
    pub async fn refresh(&self) {
        let _ = std::fs::remove_file("cache.tmp"); // expect: rs-std-fs
    }

    pub fn refresh_sync(&self) {
        let _ = std::fs::remove_file("cache.tmp");
    }
}

pub async fn macro_bodies_are_not_parsed(rx: tokio::sync::oneshot::Receiver<()>) {
    tokio::select! {
        _ = rx => {
            std::thread::sleep(Duration::from_secs(1)); // expect-missed: rs-thread-sleep
        }
    }
}
