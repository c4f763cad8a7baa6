//! `--save-dir DIR`: response bodies streamed to files instead of the JSON.
//!
//! Three promises, each kept here and nowhere else:
//! - **A name never leaves DIR.** Whatever it came from (the item's
//!   `save_as`, a `Content-Disposition` filename, the URL's last segment),
//!   it is cut to one plain component: separators split it, `.`/`..` and
//!   empty parts go, control characters and NUL go, and it is capped in
//!   length. Nothing usable left means the next source is tried, down to the
//!   item's index.
//! - **No silent overwrite.** Two items that would write the same name get
//!   `name-1.ext`, `name-2.ext`; a file already in DIR before the run is
//!   kept (the item is `skipped`, kind `exists`) unless `--overwrite`.
//! - **Nothing partial under a final name.** Bytes go to a hidden temporary
//!   file in DIR (`.name.part-XXXX`) on a blocking thread that also hashes
//!   them; only a complete body is renamed into place. A failed, timed-out or
//!   cancelled download drops the temporary file.

use super::RequestError;
use super::fetch::{Exchange, Head};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Longest file name written, in bytes (file systems allow 255).
const MAX_NAME_BYTES: usize = 200;

/// Chunks queued between the download and its writer thread: one waits
/// while one is written. A chunk is one network read (hyper's buffer, up to
/// about 400 KiB). Measured on 20 files at -c 8 (bench workload 10): a queue
/// of 8 held 33-72 MiB of RSS for files of 5-200 MB and ran slower; a queue
/// of 1 holds 25-29 MiB, and the download still overlaps the write.
const WRITE_QUEUE: usize = 1;

/// Reduces `raw` to one safe file-name component, or `None` when nothing
/// usable is left.
pub(crate) fn sanitize(raw: &str) -> Option<String> {
    let parts: Vec<String> = raw
        .split(['/', '\\'])
        .map(|part| part.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|part| part.trim().to_string())
        .filter(|part| !part.is_empty() && part != "." && part != "..")
        .collect();
    let mut name = parts.join("_");
    if name.len() > MAX_NAME_BYTES {
        // Keep the extension, cut the stem on a character boundary.
        let extension = Path::new(&name)
            .extension()
            .and_then(|extension| extension.to_str())
            .filter(|extension| extension.len() < 16)
            .map(|extension| format!(".{extension}"))
            .unwrap_or_default();
        let mut cut = MAX_NAME_BYTES - extension.len();
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name = format!("{}{extension}", &name[..cut]);
    }
    (!name.is_empty()).then_some(name)
}

/// The filename of a `Content-Disposition` value: `filename*=UTF-8''...`
/// (RFC 6266, percent-decoded) before `filename="..."`.
pub(crate) fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    for parameter in value.split(';').map(str::trim) {
        let Some((key, raw)) = parameter.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = raw.trim().trim_matches('"');
                let text = encoded.split_once("''").map_or(encoded, |(_, text)| text);
                let decoded = percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned();
                return Some(decoded);
            }
            "filename" => {
                let raw = raw.trim();
                let unquoted = raw
                    .strip_prefix('"')
                    .and_then(|rest| rest.strip_suffix('"'))
                    .map(|inner| inner.replace("\\\"", "\"").replace("\\\\", "\\"))
                    .unwrap_or_else(|| raw.to_string());
                plain = Some(unquoted);
            }
            _ => {}
        }
    }
    plain
}

/// The last non-empty path segment of a URL, percent-decoded.
pub(crate) fn url_file_name(url: &reqwest::Url) -> Option<String> {
    let segment = url
        .path_segments()?
        .rev()
        .find(|segment| !segment.is_empty())?;
    Some(
        percent_encoding::percent_decode_str(segment)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The first usable name: `save_as`, the `Content-Disposition` filename
/// (only with `--content-disposition`), the URL's last segment, the index.
pub(crate) fn choose_name(
    save_as: Option<&str>,
    disposition: Option<&str>,
    url: &reqwest::Url,
    index: usize,
) -> String {
    save_as
        .and_then(sanitize)
        .or_else(|| {
            disposition
                .and_then(disposition_filename)
                .and_then(|name| sanitize(&name))
        })
        .or_else(|| url_file_name(url).and_then(|name| sanitize(&name)))
        .unwrap_or_else(|| index.to_string())
}

/// `name` with `-N` before its extensions: `a.tar.gz` becomes `a-1.tar.gz`
/// and `.env` becomes `.env-1` (a leading dot starts no extension).
fn numbered(name: &str, number: u32) -> String {
    match name.char_indices().skip(1).find(|(_, c)| *c == '.') {
        Some((at, _)) => format!("{}-{number}{}", &name[..at], &name[at..]),
        None => format!("{name}-{number}"),
    }
}

/// What became of a claim for a name in DIR.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Write here.
    Path(PathBuf),
    /// A file of that name was in DIR before: kept (no `--overwrite`).
    Exists(PathBuf),
}

/// The save folder and the names this run has handed out.
#[derive(Debug)]
pub(crate) struct SaveDir {
    dir: PathBuf,
    overwrite: bool,
    claimed: Mutex<HashSet<String>>,
}

impl SaveDir {
    /// Opens (creating if needed) the folder.
    pub(crate) fn open(dir: &Path, overwrite: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        if !dir.is_dir() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        Ok(SaveDir {
            dir: dir.to_path_buf(),
            overwrite,
            claimed: Mutex::new(HashSet::new()),
        })
    }

    /// Takes `name` for one item: the first of `name`, `name-1`, ... that
    /// no other item of this run has taken. A file left from before the
    /// run keeps its name unless `--overwrite`.
    pub(crate) fn claim(&self, name: &str) -> Claim {
        let mut claimed = self
            .claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut candidate = name.to_string();
        let mut number = 0;
        while claimed.contains(&candidate) {
            number += 1;
            candidate = numbered(name, number);
        }
        claimed.insert(candidate.clone());
        let path = self.dir.join(&candidate);
        if !self.overwrite && std::fs::symlink_metadata(&path).is_ok() {
            return Claim::Exists(path);
        }
        Claim::Path(path)
    }

    pub(crate) fn overwrite(&self) -> bool {
        self.overwrite
    }
}

/// What a finished download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Saved {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
}

/// A download in progress: chunks go to a writer thread that writes them to
/// a temporary file in DIR and hashes them. Dropping it (a failure, a
/// timeout, a stop) removes the temporary file.
pub(crate) struct Download {
    chunks: Option<mpsc::Sender<bytes::Bytes>>,
    writer:
        Option<tokio::task::JoinHandle<std::io::Result<(tempfile::NamedTempFile, u64, String)>>>,
    target: PathBuf,
    overwrite: bool,
    /// The temporary file, until [`Download::finish`] takes it over: removed
    /// at once when the download is dropped, not when the writer thread
    /// gets to it (the process may be exiting on a signal by then).
    temporary: Option<PathBuf>,
}

impl Drop for Download {
    fn drop(&mut self) {
        if let Some(path) = self.temporary.take() {
            // The writer may still hold it open: on Unix the name goes now,
            // the bytes when the writer lets go.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Download {
    /// Starts writing towards `target` (its folder holds the temporary file).
    pub(crate) fn start(target: PathBuf, overwrite: bool) -> std::io::Result<Self> {
        let folder = target.parent().unwrap_or(Path::new(".")).to_path_buf();
        let stem = target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        // 0o666 less the umask, as curl and wget create files (tempfile's
        // own default, 0o600, would leave downloads readable by their owner
        // alone).
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".{stem}.part-"))
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(&folder)?;
        let temporary_path = temporary.path().to_path_buf();
        let (sender, mut receiver) = mpsc::channel::<bytes::Bytes>(WRITE_QUEUE);
        let writer = tokio::task::spawn_blocking(move || {
            let mut temporary = temporary;
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            while let Some(chunk) = receiver.blocking_recv() {
                temporary.write_all(&chunk)?;
                hasher.update(&chunk);
                written += chunk.len() as u64;
            }
            temporary.flush()?;
            let hex = hasher
                .finalize()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            Ok((temporary, written, hex))
        });
        Ok(Download {
            chunks: Some(sender),
            writer: Some(writer),
            target,
            overwrite,
            temporary: Some(temporary_path),
        })
    }

    /// Queues one chunk; waits while the writer is behind (back-pressure).
    pub(crate) async fn write(&mut self, chunk: bytes::Bytes) -> std::io::Result<()> {
        let Some(chunks) = &self.chunks else {
            return Err(std::io::Error::other("the download was already finished"));
        };
        if chunks.send(chunk).await.is_err() {
            // The writer stopped: its own error says why.
            return Err(self.writer_error().await);
        }
        Ok(())
    }

    async fn writer_error(&mut self) -> std::io::Error {
        self.chunks = None;
        match self.writer.take() {
            Some(writer) => match writer.await {
                Ok(Err(error)) => error,
                Ok(Ok(_)) => std::io::Error::other("the writer ended early"),
                Err(join) => std::io::Error::other(format!("the writer failed: {join}")),
            },
            None => std::io::Error::other("the writer is gone"),
        }
    }

    /// Waits for every byte to be written, then puts the file in place.
    pub(crate) async fn finish(mut self) -> std::io::Result<Saved> {
        self.chunks = None;
        let Some(writer) = self.writer.take() else {
            return Err(std::io::Error::other("the writer is gone"));
        };
        let (temporary, bytes, sha256) = writer
            .await
            .map_err(|join| std::io::Error::other(format!("the writer failed: {join}")))??;
        // From here the file is whole: it goes in place, or the persist
        // error drops (and removes) it.
        self.temporary = None;
        let target = self.target.clone();
        let overwrite = self.overwrite;
        let placed = tokio::task::spawn_blocking(move || {
            if overwrite {
                temporary.persist(&target).map(|_| ())
            } else {
                temporary.persist_noclobber(&target).map(|_| ())
            }
        })
        .await
        .map_err(|join| std::io::Error::other(format!("the rename failed: {join}")))?;
        placed.map_err(|error| error.error)?;
        Ok(Saved {
            path: self.target.clone(),
            bytes,
            sha256,
        })
    }
}

/// Streams the body of `head` into `target` through a [`Download`]: the file
/// appears under its name only once every byte is written. `max_bytes`
/// (`--max-body`, when given) fails a larger body (`too_large`) and keeps
/// nothing of it.
pub(crate) async fn stream_to_file(
    head: Head,
    target: PathBuf,
    overwrite: bool,
    max_bytes: Option<u64>,
    received: &mut u64,
) -> Result<Exchange, RequestError> {
    let Head {
        mut response,
        final_url,
        redirects,
    } = head;
    let status = response.status();
    let headers = response.headers().clone();
    if let (Some(max), Some(declared)) = (max_bytes, response.content_length())
        && declared > max
    {
        return Err(RequestError::TooLarge(max));
    }
    let shown = target.display().to_string();
    let mut download =
        Download::start(target, overwrite).map_err(|error| save_error(&shown, &error))?;
    let mut written = 0u64;
    loop {
        let Some(chunk) = super::fetch::next_chunk(&mut response, &final_url, received).await?
        else {
            break;
        };
        written += chunk.len() as u64;
        if let Some(max) = max_bytes.filter(|max| written > *max) {
            return Err(RequestError::TooLarge(max));
        }
        download
            .write(chunk)
            .await
            .map_err(|error| save_error(&shown, &error))?;
    }
    let saved = download.finish().await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            // Another program made the file while this one downloaded.
            RequestError::Exists(shown.clone())
        } else {
            save_error(&shown, &error)
        }
    })?;
    Ok(Exchange {
        status,
        headers,
        final_url,
        redirects,
        body: Vec::new(),
        body_bytes: saved.bytes,
        truncated: false,
        declared_bytes: None,
        saved: Some(saved),
    })
}

fn save_error(path: &str, error: &std::io::Error) -> RequestError {
    RequestError::Save(format!("{path}: {error}"))
}

/// `--save-dir` and how files are named and capped.
#[derive(Debug)]
pub(crate) struct SaveSettings {
    pub(crate) dir: SaveDir,
    /// `--content-disposition`: an item without `save_as` is named by the
    /// response, so its name is claimed when the response comes.
    pub(crate) content_disposition: bool,
    /// `--max-body`, when given.
    pub(crate) max_bytes: Option<u64>,
}

/// Where one item's body goes with `--save-dir`: the path claimed for it
/// (claimed once, kept across retries), or `None` until the response
/// names it (`--content-disposition`).
#[derive(Debug)]
pub(crate) struct FileTarget {
    pub(crate) index: usize,
    pub(crate) path: Option<PathBuf>,
}

impl SaveSettings {
    /// Item `index`'s target, claimed now when its name is known before
    /// any response (`save_as`, or no `--content-disposition`); `Err` with
    /// the path of a file that was there before the run (kept).
    pub(crate) fn target(
        &self,
        save_as: Option<&str>,
        url: &reqwest::Url,
        index: usize,
    ) -> Result<FileTarget, PathBuf> {
        if save_as.is_none() && self.content_disposition {
            return Ok(FileTarget { index, path: None });
        }
        match self.dir.claim(&choose_name(save_as, None, url, index)) {
            Claim::Path(path) => Ok(FileTarget {
                index,
                path: Some(path),
            }),
            Claim::Exists(path) => Err(path),
        }
    }

    /// The path of `file`, claimed from the response's `Content-Disposition`
    /// if it is not yet known; kept for the item's later attempts.
    pub(crate) fn path_for(
        &self,
        file: &mut FileTarget,
        head: &Head,
        save_as: Option<&str>,
        url: &reqwest::Url,
    ) -> Result<PathBuf, RequestError> {
        if let Some(path) = &file.path {
            return Ok(path.clone());
        }
        let disposition = head
            .response
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let name = choose_name(save_as, disposition.as_deref(), url, file.index);
        match self.dir.claim(&name) {
            Claim::Path(path) => Ok(file.path.insert(path).clone()),
            Claim::Exists(path) => Err(RequestError::Exists(path.display().to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_one_component() {
        assert_eq!(sanitize("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(sanitize("../x").as_deref(), Some("x"));
        assert_eq!(sanitize("/etc/passwd").as_deref(), Some("etc_passwd"));
        assert_eq!(sanitize("a/b").as_deref(), Some("a_b"));
        assert_eq!(sanitize("a\\..\\b").as_deref(), Some("a_b"));
        assert_eq!(sanitize("nul\0byte\n.txt").as_deref(), Some("nulbyte.txt"));
        assert_eq!(sanitize(".."), None);
        assert_eq!(sanitize("/"), None);
        assert_eq!(sanitize(" . "), None);
        assert_eq!(sanitize(".hidden").as_deref(), Some(".hidden"));
        let long = format!("{}.bin", "é".repeat(300));
        let cut = sanitize(&long).unwrap();
        assert!(
            cut.len() <= MAX_NAME_BYTES && cut.ends_with(".bin"),
            "{cut}"
        );
    }

    #[test]
    fn disposition_names_prefer_the_encoded_form() {
        assert_eq!(
            disposition_filename("attachment; filename=\"a b.txt\"").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(
            disposition_filename("attachment; filename=plain.txt").as_deref(),
            Some("plain.txt")
        );
        assert_eq!(
            disposition_filename("attachment; filename=\"x\"; filename*=UTF-8''%E2%82%AC%2F..%2Fy")
                .as_deref(),
            Some("€/../y")
        );
        assert_eq!(disposition_filename("inline"), None);
    }

    #[test]
    fn names_come_from_save_as_then_disposition_then_url_then_index() {
        let url = reqwest::Url::parse("http://h/files/a%20b.txt?x=1").unwrap();
        assert_eq!(
            choose_name(
                Some("mine.bin"),
                Some("attachment; filename=d.txt"),
                &url,
                3
            ),
            "mine.bin"
        );
        assert_eq!(
            choose_name(None, Some("attachment; filename=d.txt"), &url, 3),
            "d.txt"
        );
        assert_eq!(choose_name(Some(".."), None, &url, 3), "a b.txt");
        let bare = reqwest::Url::parse("http://h/").unwrap();
        assert_eq!(choose_name(None, None, &bare, 7), "7");
    }

    #[test]
    fn the_same_name_twice_gets_a_number_and_old_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.txt"), "keep me").unwrap();
        let save = SaveDir::open(dir.path(), false).unwrap();
        assert_eq!(
            save.claim("a.tar.gz"),
            Claim::Path(dir.path().join("a.tar.gz"))
        );
        assert_eq!(
            save.claim("a.tar.gz"),
            Claim::Path(dir.path().join("a-1.tar.gz"))
        );
        assert_eq!(
            save.claim("a.tar.gz"),
            Claim::Path(dir.path().join("a-2.tar.gz"))
        );
        assert_eq!(save.claim(".env"), Claim::Path(dir.path().join(".env")));
        assert_eq!(save.claim(".env"), Claim::Path(dir.path().join(".env-1")));
        assert_eq!(
            save.claim("old.txt"),
            Claim::Exists(dir.path().join("old.txt"))
        );
        let overwriting = SaveDir::open(dir.path(), true).unwrap();
        assert_eq!(
            overwriting.claim("old.txt"),
            Claim::Path(dir.path().join("old.txt"))
        );
    }

    #[tokio::test]
    async fn a_finished_download_is_renamed_in_place_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let mut download = Download::start(target.clone(), false).unwrap();
        download
            .write(bytes::Bytes::from_static(b"hello "))
            .await
            .unwrap();
        download
            .write(bytes::Bytes::from_static(b"world"))
            .await
            .unwrap();
        let saved = download.finish().await.unwrap();
        assert_eq!(saved.bytes, 11);
        assert_eq!(
            saved.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"hello world");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left");
    }

    #[tokio::test]
    async fn a_dropped_download_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("partial.bin");
        let mut download = Download::start(target.clone(), false).unwrap();
        download
            .write(bytes::Bytes::from_static(b"half"))
            .await
            .unwrap();
        drop(download);
        // The writer thread owns the temporary file: give it a moment to end.
        for _ in 0..100 {
            if std::fs::read_dir(dir.path()).unwrap().next().is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_file_that_appeared_meanwhile_is_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("race.bin");
        let download = Download::start(target.clone(), false).unwrap();
        std::fs::write(&target, "theirs").unwrap();
        assert!(download.finish().await.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
    }
}
