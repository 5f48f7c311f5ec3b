//! Terminal benchmark (not a test): `cargo bench -p server --bench terminal`.
//! Prints a table: wire throughput of `cat` of a 64 MiB file through one viewer against raw
//! PTY throughput of the same file, keystroke echo latency over 300 keys, and server RSS while a
//! stalled viewer watches `yes`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const FILE_MIB: usize = 64;

struct Server {
    child: Child,
    port: u16,
    _repo: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let repo = tempfile::tempdir().unwrap();
    git2::Repository::init(repo.path()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_codex-governance"))
        .args(["serve", "--port", "0", "--agent", "demo", "--repo"])
        .arg(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Server {
        child,
        port,
        _repo: repo,
    }
}

fn post(port: u16, path: &str, body: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn viewer(port: u16, shell_args: serde_json::Value) -> Socket {
    let body = serde_json::json!({"shell": "/bin/sh", "shell_args": shell_args}).to_string();
    let terminal = post(port, "/api/browser_terminal/start", &body);
    let url = terminal["terminal"]["url"]
        .as_str()
        .unwrap()
        .replace("http://", "ws://")
        .replace("/terminal/", "/ws/terminal/");
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The baseline: the same `cat` into a bare PTY (portable-pty, no ring, no transcript, no
/// WebSocket), read until end of file. Timed from the first byte, like the wire measurement.
/// Reading this eagerly gets about 4 KiB per read (measured: 16,354 reads for 64 MiB), so it is
/// bound by wakeups; the server's reader does work between reads and gets more per read, which
/// is why the wire can come out faster than this baseline.
fn raw_pty_seconds(file: &std::path::Path) -> (f64, u64) {
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    use std::io::Read;
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut command = CommandBuilder::new("/bin/sh");
    command.args(["-c", &format!("stty raw -echo; cat {}", file.display())]);
    let mut child = pair.slave.spawn_command(command).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut bytes, mut started) = (0u64, None);
    // Linux answers EIO once the last slave is closed: that is the end of the output.
    while let Ok(n @ 1..) = reader.read(&mut buffer) {
        started.get_or_insert_with(Instant::now);
        bytes += n as u64;
    }
    let seconds = started
        .map(|s| s.elapsed().as_secs_f64())
        .unwrap_or(f64::NAN);
    let _ = child.wait();
    (seconds, bytes)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let mut data = Vec::with_capacity(FILE_MIB << 20);
    for _ in 0..FILE_MIB {
        data.extend_from_slice(&chunk);
    }
    std::fs::write(&file, &data).unwrap();

    // Raw PTY: the same cat into a bare PTY.
    let (raw_secs, raw_bytes) = raw_pty_seconds(&file);

    let server = start_server();
    // Wire: one viewer, reading and acknowledging everything.
    let script = format!("stty raw -echo; sleep 0.5; cat {}", file.display());
    let mut socket = viewer(server.port, serde_json::json!(["-c", script])).await;
    // Bytes the viewer did not get as bytes: the server sent a snapshot of its screen instead
    // (it fell behind the retained output).
    let (mut received, mut skipped, mut offset) = (0u64, 0u64, 0u64);
    let mut first: Option<Instant> = None;
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Binary(bytes) => {
                first.get_or_insert_with(Instant::now);
                received += bytes.len() as u64;
                offset += bytes.len() as u64;
                let ack = format!(r#"{{"type":"ack","bytes":{}}}"#, bytes.len());
                socket.send(Message::Text(ack.into())).await.unwrap();
            }
            Message::Text(text) => {
                let event: serde_json::Value = serde_json::from_str(&text).unwrap();
                match event["type"].as_str() {
                    Some("hello") => offset = event["offset"].as_u64().unwrap(),
                    Some("snapshot") => {
                        let to = event["offset"].as_u64().unwrap();
                        skipped += to - offset;
                        offset = to;
                    }
                    _ => {}
                }
                if event["type"] == "exit" {
                    break;
                }
            }
            _ => {}
        }
    }
    let wire_secs = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(f64::NAN);

    // Echo latency: raw-mode cat returns each key as soon as it arrives.
    let mut echo = viewer(
        server.port,
        serde_json::json!(["-c", "stty raw -echo; cat"]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::with_capacity(300);
    for i in 0..300u32 {
        let key = [b'a' + (i % 26) as u8];
        let sent = Instant::now();
        echo.send(Message::Binary(key.to_vec().into()))
            .await
            .unwrap();
        loop {
            match echo.next().await {
                Some(Ok(Message::Binary(bytes))) if bytes.contains(&key[0]) => break,
                Some(Ok(_)) => continue,
                other => panic!("echo stream ended: {other:?}"),
            }
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    // RSS while a viewer that never reads watches `yes` for 10 s.
    let pid = server.child.id();
    let before = rss_kib(pid);
    let _stalled = viewer(server.port, serde_json::json!(["-c", "yes"])).await;
    let mut peak = before;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kib(pid));
    }

    let mb = |bytes: u64, secs: f64| bytes as f64 / secs / 1e6;
    println!("| measure | value |");
    println!("|---|---|");
    println!("| raw PTY throughput (cat {FILE_MIB} MiB) | {:.1} MB/s ({raw_bytes} bytes in {raw_secs:.2} s) |", mb(raw_bytes, raw_secs));
    println!("| wire throughput, one viewer | {:.1} MB/s ({received} bytes, {skipped} replaced by snapshots, in {wire_secs:.2} s) |", mb(received, wire_secs));
    println!(
        "| wire / raw | {:.0} % |",
        100.0 * mb(received, wire_secs) / mb(raw_bytes, raw_secs)
    );
    println!(
        "| keystroke echo p50 / p99 (300 keys) | {:.2} ms / {:.2} ms |",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    println!(
        "| server RSS, stalled viewer on `yes` for 10 s | {before} KiB before, {peak} KiB peak |"
    );
}
