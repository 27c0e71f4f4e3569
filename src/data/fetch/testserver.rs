//! A tiny HTTP/1.1 server on 127.0.0.1 for the fetch tests (unit and end-to-end): it serves
//! fixtures from memory, counts requests, and can misbehave in the ways a real download does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    /// The right length, one byte flipped in the middle.
    CorruptByte,
    /// Announces the full length, sends half, closes.
    Truncate,
    NotFound,
    /// Reads the request and closes without a word.
    Drop,
    /// Answers `/<file>` with a 302 to `/moved/<file>`, which it serves.
    Redirect,
}

struct Shared {
    files: Mutex<HashMap<String, Vec<u8>>>,
    mode: Mutex<Mode>,
    requests: AtomicUsize,
    stop: AtomicBool,
}

pub struct TestServer {
    shared: Arc<Shared>,
    port: u16,
}

impl TestServer {
    /// Starts serving `files` (name → bytes) on a free port.
    pub fn start(files: HashMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            files: Mutex::new(files),
            mode: Mutex::new(Mode::Serve),
            requests: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let server = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if server.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = answer(&server, stream);
                }
            }
        });
        Self { shared, port }
    }

    /// Every file of `dir` (not recursive), by file name.
    pub fn files_of(dir: &Path) -> HashMap<String, Vec<u8>> {
        let entries = std::fs::read_dir(dir).expect("fixture folder");
        entries
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("fixture")))
            .collect()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn insert(&self, name: &str, bytes: Vec<u8>) {
        self.shared.files.lock().unwrap().insert(name.to_string(), bytes);
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(shared: &Shared, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
    let mode = *shared.mode.lock().unwrap();
    let (name, moved) = match path.strip_prefix("moved/") {
        Some(name) => (name.to_string(), true),
        None => (path.clone(), false),
    };
    let body = shared.files.lock().unwrap().get(&name).cloned();
    let Some(mut body) = body.filter(|_| mode != Mode::NotFound) else {
        return stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    match mode {
        Mode::Drop => return Ok(()),
        Mode::Redirect if !moved => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: /moved/{name}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return stream.write_all(head.as_bytes());
        }
        Mode::CorruptByte if !body.is_empty() => {
            let mid = body.len() / 2;
            body[mid] ^= 0x5a;
        }
        _ => {}
    }
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes())?;
    let sent = if mode == Mode::Truncate { body.len() / 2 } else { body.len() };
    stream.write_all(&body[..sent])?;
    stream.flush()
}

/// A zip of every file under `dir`, each stored as `<top>/<path>` (as OGB's archives hold
/// `arxiv/raw/...`), or at the top level when `top` is empty.
pub fn zip_folder(dir: &Path, top: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let mut files = super::cache::files_under(dir).expect("fixture folder");
    files.sort();
    for rel in files {
        let name = if top.is_empty() { rel.clone() } else { format!("{top}/{rel}") };
        w.start_file(name, options).expect("zip entry");
        w.write_all(&std::fs::read(dir.join(&rel)).expect("fixture")).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}
