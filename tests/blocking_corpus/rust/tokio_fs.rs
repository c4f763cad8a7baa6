//! The async file API: nothing here blocks.
use tokio::fs;
use tokio::io::AsyncReadExt;

pub async fn load(path: &str) -> std::io::Result<String> {
    let text = fs::read_to_string(path).await?;
    fs::write("out", &text).await?;
    let mut file = fs::File::open(path).await?;
    let mut buffer = String::new();
    file.read_to_string(&mut buffer).await?;
    let meta = tokio::fs::metadata(path).await?;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    drop(meta);
    Ok(text + &buffer)
}
