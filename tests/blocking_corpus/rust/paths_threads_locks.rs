//! std::path queries, std thread joins and RwLock guards inside async code.
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::thread;

async fn save() {}

pub async fn paths(dir: &Path, file: PathBuf) -> bool {
    let config = Path::new("config.toml");
    if config.exists() { // expect: rs-std-path
        return true;
    }
    let meta = file.metadata(); // expect: rs-std-path
    let joined = dir.join("cache");
    joined.is_dir() // expect: rs-std-path
        && meta.is_ok()
}

pub async fn joins() {
    let handle = thread::spawn(|| 1 + 1);
    let _ = handle.join(); // expect: rs-thread-join
    let task = tokio::spawn(async { 1 });
    let _ = task.await;
}

pub async fn rw_guards(table: Arc<RwLock<Vec<u8>>>) {
    let rows = table.read().unwrap(); // expect: rs-mutex-guard-across-await
    save().await;
    drop(rows);
    {
        let mut rows = table.write().unwrap();
        rows.push(1);
    }
    save().await;
}

pub async fn look_alikes(dir: &str, cache: &Cache) -> bool {
    // tokio's own: awaited.
    let _ = tokio::fs::try_exists(dir).await;
    // Handed to a blocking thread.
    let owned = PathBuf::from(dir);
    let _ = tokio::task::spawn_blocking(move || owned.exists()).await;
    // Same method names on an unrelated type.
    cache.exists();
    cache.join();
    // Pure path work: no file system.
    let name = Path::new(dir).file_name().is_some();
    name
}

pub fn sync_code(dir: &Path) -> bool {
    dir.exists()
}

pub struct Cache;

impl Cache {
    pub fn exists(&self) -> bool {
        true
    }

    pub fn join(&self) {}
}
