//! Work handed to other threads from async code, and test code.
use std::sync::Mutex;
use std::time::Duration;

pub struct Pool;

impl Pool {
    pub fn execute<F: FnOnce()>(&self, job: F) {
        job()
    }
}

pub struct Client {
    pub data: std::fs::File,
}

pub async fn offload(pool: &Pool, client: &mut Client) {
    let worker = std::thread::Builder::new()
        .name("io".into())
        .spawn(move || std::fs::read("big.bin"))
        .unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| std::thread::sleep(Duration::from_millis(1)));
    });
    pool.execute(|| std::thread::sleep(Duration::from_millis(1)));
    let handle = tokio::runtime::Handle::current();
    handle.spawn_blocking(|| std::fs::remove_file("tmp"));
    let result = tokio::task::spawn_blocking(|| {
        let counter = Mutex::new(0);
        let guard = counter.lock().unwrap();
        drop(guard);
    })
    .await;
    use std::io::Read;
    let mut buffer = Vec::new();
    client.data.read_to_end(&mut buffer).ok(); // expect-missed: rs-std-fs
    drop((worker, result));
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn reads_a_fixture() {
        let text = std::fs::read_to_string("fixture.json").unwrap(); // expect: rs-std-fs
        assert!(!text.is_empty());
    }
}
