//! std::sync::Mutex guards and .await.
use std::sync::{Arc, Mutex};

pub struct State {
    pub hits: Mutex<u64>,
    pub names: tokio::sync::Mutex<Vec<String>>,
}

async fn save() {}

pub async fn held_across_await(state: Arc<State>) {
    let mut hits = state.hits.lock().unwrap(); // expect: rs-mutex-guard-across-await
    *hits += 1;
    save().await;
}

pub async fn held_with_expect(counter: Arc<Mutex<u64>>) {
    let guard = counter.lock().expect("poisoned"); // expect: rs-mutex-guard-across-await
    if *guard > 3 {
        save().await;
    }
}

pub async fn dropped_first(state: Arc<State>) {
    let mut hits = state.hits.lock().unwrap();
    *hits += 1;
    drop(hits);
    save().await;
}

pub async fn scoped_in_a_block(state: Arc<State>) {
    {
        let mut hits = state.hits.lock().unwrap();
        *hits += 1;
    }
    save().await;
}

pub async fn temporary_only(state: Arc<State>) {
    let copy = *state.hits.lock().unwrap();
    save().await;
    drop(copy);
}

pub async fn async_mutex(state: Arc<State>) {
    let mut names = state.names.lock().await;
    names.push("x".into());
    save().await;
}

pub async fn await_in_a_spawned_task(state: Arc<State>) {
    let hits = state.hits.lock().unwrap();
    let task = tokio::spawn(async {
        save().await;
    });
    drop(hits);
    task.await.ok();
}

pub fn sync_fn(state: Arc<State>) {
    let mut hits = state.hits.lock().unwrap();
    *hits += 1;
}
