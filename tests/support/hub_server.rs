//! A stand-in for the Hugging Face Hub on 127.0.0.1, serving model folders in the hub's URL
//! layout, with faults to inject per file.
//!
//! Written on `std::net` rather than with an HTTP server crate because the tests need to break
//! HTTP on purpose (announce a length, then close early) at a precise point, which servers built
//! to be correct make hard. It answers what `hf-hub`'s blocking client asks, one connection at a
//! time, closing each after its response:
//! - `GET /api/models/{id}/revision/{rev}`: `{"sha": COMMIT, "siblings": [{"rfilename": ...}]}`;
//! - `GET /{id}/resolve/{rev}/{file}` with or without `Range: bytes=a-[b]`, with `ETag` (Git's
//!   blob hash), `X-Linked-Etag` (SHA-256, for weights, as for LFS files) and `X-Repo-Commit`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The commit every served repository is at.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The listing's key in [`HubServer::set_fault`].
pub const LISTING: &str = "<listing>";

/// A way to fail one file (or the listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 404.
    NotFound,
    /// Answer 500.
    ServerError,
    /// Announce the whole length, send half, close the connection.
    Truncate,
    /// Send the right length with one byte changed.
    Corrupt,
    /// Answer 302 with the hub's headers but no `Location`.
    RedirectWithoutLocation,
    /// Accept the request and say nothing (until the server stops, 60 s at most), as a hub
    /// behind a hung proxy would.
    Stall,
}

#[derive(Default)]
struct State {
    stop: Arc<AtomicBool>,
    repos: HashMap<String, PathBuf>,
    faults: HashMap<String, Fault>,
    requests: Vec<String>,
}

/// The running server; stops when dropped.
pub struct HubServer {
    endpoint: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HubServer {
    /// Serves each `(id, folder)` pair.
    pub fn start(repos: &[(&str, PathBuf)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State {
            stop: stop.clone(),
            repos: repos
                .iter()
                .map(|(id, dir)| (id.to_string(), dir.clone()))
                .collect(),
            ..State::default()
        }));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A connection of its own, so that a stalled one holds up no other.
                        let state = state.clone();
                        std::thread::spawn(move || {
                            let _ = handle(stream, &state);
                        });
                    }
                }
            })
        };
        Self {
            endpoint,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Fails `file` (a file name, or [`LISTING`]) from now on, or stops failing it.
    pub fn set_fault(&self, file: &str, fault: Option<Fault>) {
        let mut state = self.state.lock().unwrap();
        match fault {
            Some(fault) => state.faults.insert(file.to_string(), fault),
            None => state.faults.remove(file),
        };
    }

    /// The paths requested so far, in order (with `Range` when given).
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The files whose whole content was asked for (not the 1-byte metadata probes).
    pub fn downloaded_files(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.contains("/resolve/") && !r.ends_with("bytes=0-0"))
            .filter_map(|r| r.split_whitespace().next()?.rsplit('/').next())
            .map(str::to_string)
            .collect()
    }

    /// Stops the server; later connections are refused.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .replace("%2F", "/");
    let mut state = state.lock().unwrap();
    state.requests.push(match &range {
        Some(range) => format!("{path} {range}"),
        None => path.clone(),
    });
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let Some((id, _revision)) = rest.split_once("/revision/") else {
            return respond(&mut stream, 404, &[], b"not found");
        };
        if let Some(fault) = state.faults.get(LISTING).copied() {
            if fault == Fault::Stall {
                let stop = state.stop.clone();
                drop(state);
                return stall(&stop);
            }
            return respond_fault(&mut stream, fault);
        }
        let Some(dir) = state.repos.get(id) else {
            return respond(
                &mut stream,
                404,
                &[],
                b"{\"error\":\"Repository not found\"}",
            );
        };
        let mut files: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        files.sort();
        let siblings: Vec<serde_json::Value> = files
            .iter()
            .map(|f| serde_json::json!({ "rfilename": f }))
            .collect();
        let body = serde_json::json!({ "sha": COMMIT, "siblings": siblings }).to_string();
        return respond(&mut stream, 200, &[], body.as_bytes());
    }
    let Some((id, file)) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once("/resolve/"))
        .and_then(|(id, rest)| Some((id, rest.split_once('/')?.1)))
    else {
        return respond(&mut stream, 404, &[], b"not found");
    };
    let fault = state.faults.get(file).copied();
    let stop = state.stop.clone();
    let content = state
        .repos
        .get(id)
        .and_then(|dir| std::fs::read(dir.join(file)).ok());
    drop(state);
    let Some(content) = content else {
        return respond(
            &mut stream,
            404,
            &[("X-Error-Code", "EntryNotFound".into())],
            b"",
        );
    };
    if fault == Some(Fault::Stall) {
        return stall(&stop);
    }
    if let Some(fault @ (Fault::NotFound | Fault::ServerError)) = fault {
        return respond_fault(&mut stream, fault);
    }
    if fault == Some(Fault::RedirectWithoutLocation) {
        let headers = [
            ("ETag", format!("\"{}\"", git_blob_hash(&content))),
            ("X-Repo-Commit", COMMIT.to_string()),
        ];
        return respond(&mut stream, 302, &headers, b"");
    }
    let total = content.len();
    let (start, end) = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .map(|(a, b)| {
            let start: usize = a.parse().unwrap_or(0);
            let end: usize = b.parse().unwrap_or(total.saturating_sub(1));
            (start.min(total), end.min(total.saturating_sub(1)))
        })
        .unwrap_or((0, total.saturating_sub(1)));
    let mut body = content.get(start..=end).unwrap_or_default().to_vec();
    if fault == Some(Fault::Corrupt) && !body.is_empty() {
        let middle = body.len() / 2;
        body[middle] ^= 0xff;
    }
    let mut headers = vec![
        ("ETag", format!("\"{}\"", git_blob_hash(&content))),
        ("X-Repo-Commit", COMMIT.to_string()),
        ("Accept-Ranges", "bytes".to_string()),
    ];
    if file.ends_with(".safetensors") || file.ends_with(".bin") {
        headers.push((
            "X-Linked-Etag",
            format!("\"{}\"", hex(&Sha256::digest(&content))),
        ));
    }
    let status = if range.is_some() {
        headers.push(("Content-Range", format!("bytes {start}-{end}/{total}")));
        206
    } else {
        200
    };
    if fault == Some(Fault::Truncate) && body.len() > 1 {
        write_head(&mut stream, status, &headers, body.len())?;
        stream.write_all(&body[..body.len() / 2])?;
        stream.flush()?;
        return stream.shutdown(std::net::Shutdown::Both);
    }
    respond(&mut stream, status, &headers, &body)
}

/// Holds the connection open, saying nothing, until the server stops (60 s at most).
fn stall(stop: &AtomicBool) -> std::io::Result<()> {
    let begun = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) && begun.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

fn respond_fault(stream: &mut TcpStream, fault: Fault) -> std::io::Result<()> {
    match fault {
        Fault::NotFound => respond(stream, 404, &[], b"not found"),
        _ => respond(stream, 500, &[], b"internal error"),
    }
}

fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    length: usize,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut head =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    write_head(stream, status, headers, body.len())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Git's blob hash, which the hub gives as the ETag of files outside LFS.
pub fn git_blob_hash(content: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", content.len()).as_bytes());
    hasher.update(content);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
