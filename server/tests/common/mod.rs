//! Test harness: starts the real `codex-governance` binary on a free loopback port inside a
//! temporary Git repository, and speaks raw HTTP/1.1 to it (so tests control every header).

#![allow(dead_code)]

pub mod agent_flow;
pub mod messages_endpoint;
pub mod model_endpoint;
pub mod scripted;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestServer {
    pub addr: SocketAddr,
    pub repo: tempfile::TempDir,
    child: Child,
}

impl TestServer {
    /// Starts a server with the demo agent in a fresh repository.
    pub fn start() -> TestServer {
        Self::start_with(&[], &[])
    }

    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let repo = tempfile::tempdir().expect("temp dir");
        git2::Repository::init(repo.path()).expect("git init");
        Self::start_in(repo, args, env)
    }

    pub fn start_in(repo: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        Self::start_under(&[], repo, args, env)
    }

    /// Starts the server as the last argument of `wrapper` (a program that ends by exec'ing
    /// its arguments, such as `unshare`), so the server's pid is the child's.
    pub fn start_under(
        wrapper: &[&str],
        repo: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        let binary = env!("CARGO_BIN_EXE_codex-governance");
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .args(["serve", "--port", "0", "--repo"])
            .arg(repo.path())
            .args(args)
            .env("CODEX_GOVERNANCE_AGENT", "demo")
            .env_remove("LEPTOS_SITE_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start codex-governance");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read URL line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"));
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("socket address");
        TestServer { addr, repo, child }
    }

    /// Stops this server (SIGKILL, as a crash would) and starts a new one on the same repo.
    pub fn restart(mut self, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let repo = std::mem::replace(&mut self.repo, tempfile::tempdir().unwrap());
        TestServer::start_in(repo, args, env)
    }

    /// Stops the server with a signal and waits for it (graceful shutdown).
    pub fn stop_with(&mut self, signal: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
        let _ = self.child.wait();
    }

    pub fn repo_path(&self) -> &Path {
        self.repo.path()
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.host())
    }

    /// A request with the right Host header and optional extra headers / JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response {
        let mut text = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.host()
        );
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = body {
            text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        } else {
            text.push_str("\r\n");
        }
        self.raw(text.as_bytes())
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None)
    }

    pub fn post_json(&self, path: &str, body: &str) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body),
        )
    }

    /// POST a JSON value and expect 200 with `ok: true`.
    pub fn post_ok(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self.post_json(path, &body.to_string());
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let json = response.json();
        assert_eq!(json["ok"], true, "{json}");
        json
    }

    /// GET and expect 200 with `ok: true`.
    pub fn get_ok(&self, path: &str) -> serde_json::Value {
        let response = self.get(path);
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response.json()
    }

    /// POST JSON to a server that may die at any moment: `None` when no complete answer came.
    pub fn try_post(&self, path: &str, body: &serde_json::Value) -> Option<Response> {
        let body = body.to_string();
        let text = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host(),
            body.len()
        );
        let mut stream = TcpStream::connect(self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        stream.write_all(text.as_bytes()).ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        raw.windows(4)
            .any(|w| w == b"\r\n\r\n")
            .then(|| Response::parse(&raw))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends bytes exactly as given and reads the whole response.
    pub fn raw(&self, bytes: &[u8]) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        // Write from another thread: the server may answer (413) and close before the upload ends.
        let mut writer = stream.try_clone().expect("clone stream");
        let bytes = bytes.to_vec();
        let upload = std::thread::spawn(move || {
            let _ = writer.write_all(&bytes);
        });
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let _ = upload.join();
        Response::parse(&raw)
    }

    /// Opens the push stream (`GET /api/events`), reads with this timeout.
    pub fn open_events(&self, timeout: Duration) -> EventStream {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(timeout)).unwrap();
        write!(
            stream,
            "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.host()
        )
        .unwrap();
        EventStream(BufReader::new(stream))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.repo.path().join(".tmp")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Its PTY host and agents end before the repository is removed: a host still writing
        // transcripts while the directory is deleted could leave it half there, and running.
        // (After `restart` this is the placeholder directory: nothing to stop.)
        let _ = Command::new(env!("CARGO_BIN_EXE_codex-governance"))
            .args(["stop", "--state-dir"])
            .arg(self.state_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The push stream of a test server, read line by line.
pub struct EventStream(BufReader<TcpStream>);

impl EventStream {
    /// Reads until an event with this name arrives (fails when the stream ends first).
    pub fn wait_for_event(&mut self, name: &str) {
        let wanted = format!("event: {name}");
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.0.read_line(&mut line).unwrap() > 0,
                "the push stream ended"
            );
            if line.trim_end() == wanted {
                return;
            }
        }
    }
}

/// Every result of an inbox answer, unread first, then read.
pub fn all_results(inbox: &serde_json::Value) -> Vec<serde_json::Value> {
    let list = |key: &str| {
        inbox[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {inbox}"))
            .clone()
    };
    [list("unread_results"), list("read_results")].concat()
}

/// Runs `git` in `repo` (with a committer identity) and returns its trimmed output; fails the
/// test with Git's message when it fails.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Polls `probe` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts the failure shape `{"ok": false, "error": "..."}` with the given status.
    pub fn assert_failure(&self, status: u16) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let json = self.json();
        assert_eq!(json["ok"], serde_json::Value::Bool(false), "{json}");
        let error = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text: {json}"));
        assert!(!error.is_empty());
        error.to_string()
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end])
            .trim()
            .to_string();
        let size = usize::from_str_radix(&size_text, 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}
