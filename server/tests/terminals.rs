//! Browser terminals over WebSockets with a tokio-tungstenite client against the real binary:
//! authentication, Host/Origin rules, echo, byte-exact output, replay, flow control, resize,
//! read-only session views and process-group cleanup.

mod common;

use std::time::Duration;

use common::{wait_for, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn terminal_parts(terminal: &Value) -> (String, String) {
    let url = terminal["url"].as_str().unwrap();
    let id = terminal["id"].as_str().unwrap().to_string();
    let token = url.split("token=").nth(1).unwrap().to_string();
    (id, token)
}

async fn connect(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Socket, tungstenite::Error> {
    let mut request = format!("ws://{}{path}", server.host())
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        request.headers_mut().insert(name, v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

async fn open(server: &TestServer, terminal: &Value) -> Socket {
    let (id, token) = terminal_parts(terminal);
    connect(server, &format!("/ws/terminal/{id}?token={token}"), &[])
        .await
        .expect("viewer connects")
}

/// Reads output (acknowledging it) until `done` holds for the bytes so far or the process
/// exits; returns the bytes and the exit code if one arrived.
async fn read_until(
    socket: &mut Socket,
    timeout: Duration,
    done: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, Option<Value>) {
    let mut bytes = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done(&bytes) {
            return (bytes, None);
        }
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("timed out; got {:?}", String::from_utf8_lossy(&bytes)));
        match message {
            Some(Ok(Message::Binary(data))) => {
                bytes.extend_from_slice(&data);
                let ack = json!({"type": "ack", "bytes": data.len()}).to_string();
                let _ = socket.send(Message::Text(ack.into())).await;
            }
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == "exit" {
                    return (bytes, Some(event));
                }
                // A snapshot is what the viewer writes to its terminal, like output.
                if event["type"] == "snapshot" {
                    bytes.extend_from_slice(event["data"].as_str().unwrap().as_bytes());
                }
            }
            Some(Ok(_)) => {}
            end => {
                // Shown with a failing test: why the stream ended without an exit event.
                eprintln!("viewer stream ended after {} bytes: {end:?}", bytes.len());
                return (bytes, None);
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Waits until the server's first terminal has exited.
fn wait_until_exited(server: &TestServer) {
    wait_for(Duration::from_secs(10), "the shell to exit", || {
        (server.get_ok("/api/browser_terminals")["terminals"][0]["status"] == "exited")
            .then_some(())
    });
}

fn start_shell(server: &TestServer, args: Value) -> Value {
    server.post_ok(
        "/api/browser_terminal/start",
        json!({"shell": "/bin/sh", "shell_args": args}),
    )["terminal"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_need_the_token_and_a_loopback_origin() {
    let server = TestServer::start();
    let terminal = start_shell(&server, json!([]));
    let (id, token) = terminal_parts(&terminal);
    let status = |err: tungstenite::Error| match err {
        tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    };
    assert_eq!(
        status(
            connect(&server, &format!("/ws/terminal/{id}"), &[])
                .await
                .unwrap_err()
        ),
        401
    );
    assert_eq!(
        status(
            connect(&server, &format!("/ws/terminal/{id}?token=wrong"), &[])
                .await
                .unwrap_err()
        ),
        403
    );
    let path = format!("/ws/terminal/{id}?token={token}");
    let port = server.addr.port();
    // With the right token, a foreign Origin or Host still gets no upgrade.
    let origins = [
        "https://evil.example".to_string(),
        "null".to_string(),
        format!("http://127.0.0.1:{port}.evil.example"),
        format!("http://127.0.0.1:{}", if port == 1 { 2 } else { port - 1 }),
    ];
    for origin in &origins {
        let refused = connect(&server, &path, &[("Origin", origin)]).await;
        assert_eq!(status(refused.unwrap_err()), 403, "Origin {origin}");
    }
    let hosts = [
        format!("attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        format!("0.0.0.0:{port}"),
    ];
    for host in &hosts {
        let refused = connect(&server, &path, &[("Host", host)]).await;
        assert_eq!(status(refused.unwrap_err()), 403, "Host {host}");
    }
    // No Host header at all (tungstenite always sends one, so by hand).
    let handshake = format!(
        "GET {path} HTTP/1.1\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let answer = server.raw(handshake.as_bytes());
    assert_eq!(answer.status, 403, "no Host: {}", answer.text());
    let own = server.origin();
    connect(&server, &path, &[("Origin", &own)])
        .await
        .expect("same origin is fine");
    // The page is guarded the same way.
    assert_eq!(server.get(&format!("/terminal/{id}")).status, 401);
    assert_eq!(
        server.get(&format!("/terminal/{id}?token=nope")).status,
        403
    );
    assert_eq!(
        server.get(&format!("/terminal/{id}?token={token}")).status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip_and_resize() {
    let server = TestServer::start();
    let terminal = start_shell(&server, json!([]));
    assert_eq!(terminal["kind"], "interactive");
    assert_eq!(terminal["read_only"], false);
    let mut socket = open(&server, &terminal).await;
    socket
        .send(Message::Binary(b"echo ro$((40+2))und\r".to_vec().into()))
        .await
        .unwrap();
    read_until(&mut socket, Duration::from_secs(10), |b| {
        contains(b, "ro42und")
    })
    .await;
    let resize = json!({"type": "resize", "cols": 101, "rows": 37}).to_string();
    socket.send(Message::Text(resize.into())).await.unwrap();
    socket
        .send(Message::Binary(b"stty size\r".to_vec().into()))
        .await
        .unwrap();
    read_until(&mut socket, Duration::from_secs(10), |b| {
        contains(b, "37 101")
    })
    .await;
    // The running shell is reused; closing ends it.
    let again = server.post_ok("/api/browser_terminal/start", json!({}));
    assert_eq!(again["reused"], true);
    assert_eq!(again["terminal"]["id"], terminal["id"]);
    let closed = server.post_ok("/api/browser_terminal/close", json!({"id": terminal["id"]}));
    assert_eq!(closed["terminal"]["status"], "exited");
    let (_, exit) = read_until(&mut socket, Duration::from_secs(10), |_| false).await;
    assert!(exit.is_some(), "viewer sees the exit");
    assert!(
        server.get_ok("/api/browser_terminals")["terminals"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_byte_exact_and_replayed_after_reconnect() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.bin");
    // Invalid UTF-8, multibyte characters cut by chunk boundaries, control bytes.
    let mut payload = Vec::new();
    for i in 0..60_000u32 {
        payload.extend_from_slice("中文é".as_bytes());
        payload.push((i % 256) as u8);
        payload.push(0xff);
    }
    std::fs::write(&file, &payload).unwrap();
    let script = format!("stty raw -echo; cat {}", file.display());
    let terminal = start_shell(&server, json!(["-c", script]));
    // The process may have ended before anyone watches: nothing is lost.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut first = open(&server, &terminal).await;
    let (bytes, exit) = read_until(&mut first, Duration::from_secs(20), |_| false).await;
    assert_eq!(exit.unwrap()["code"], 0);
    assert_eq!(bytes.len(), payload.len());
    assert!(bytes == payload, "output differs from the file");
    drop(first);
    let mut again = open(&server, &terminal).await;
    let (replayed, _) = read_until(&mut again, Duration::from_secs(20), |_| false).await;
    assert!(replayed == payload, "replay after reconnect differs");
}

/// The text a terminal of the server's default size shows after `data`.
fn render(data: &str) -> String {
    let mut parser = vt100::Parser::new(
        std::num::NonZeroU16::new(32).unwrap(),
        std::num::NonZeroU16::new(120).unwrap(),
        0,
    );
    parser.process(data.as_bytes());
    parser.screen().contents()
}

/// Reads a whole stream until its exit: the JSON events in order (binary frames are counted into
/// the output, acknowledged, and marked in the event list as `{"type":"output","bytes":N}`).
async fn read_stream(socket: &mut Socket) -> (Vec<Value>, Vec<u8>) {
    read_stream_feeding(socket, Duration::from_secs(20), |_| {}).await
}

/// [`read_stream`], waiting at most `gap` for each message, and giving `feed` what a viewer's
/// terminal would get, in order: output bytes and snapshot data.
async fn read_stream_feeding(
    socket: &mut Socket,
    gap: Duration,
    mut feed: impl FnMut(&[u8]),
) -> (Vec<Value>, Vec<u8>) {
    let (mut events, mut bytes) = (Vec::new(), Vec::new());
    loop {
        let message = tokio::time::timeout(gap, socket.next())
            .await
            .expect("the stream goes on");
        match message {
            Some(Ok(Message::Binary(data))) => {
                feed(&data);
                bytes.extend_from_slice(&data);
                events.push(json!({"type": "output", "bytes": data.len()}));
                let ack = json!({"type": "ack", "bytes": data.len()}).to_string();
                let _ = socket.send(Message::Text(ack.into())).await;
            }
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == "snapshot" {
                    feed(event["data"].as_str().unwrap().as_bytes());
                }
                let exit = event["type"] == "exit";
                events.push(event);
                if exit {
                    return (events, bytes);
                }
            }
            Some(Ok(_)) => {}
            end => panic!("stream ended before its exit event: {end:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_resumes_after_since_or_gets_a_snapshot_of_the_screen() {
    let server = TestServer::start_with(&["--scrollback-kib", "64"], &[]);
    // 120,000 bytes of numbered words: more than the 64 KiB kept.
    let script = "stty raw -echo; seq -w 1 20000 | tr '\\n' ' '";
    let terminal = start_shell(&server, json!(["-c", script]));
    wait_until_exited(&server);
    let payload: Vec<u8> = (1..=20000)
        .flat_map(|i| format!("{i:05} ").into_bytes())
        .collect();
    let (id, token) = terminal_parts(&terminal);
    let view = |since: &str| format!("/ws/terminal/{id}?token={token}{since}");

    // Without `since`, after the retained output lost its beginning: the screen as it is now
    // (no replay starting in the middle), and the stream from there.
    let mut late = connect(&server, &view(""), &[]).await.unwrap();
    let (events, bytes) = read_stream(&mut late).await;
    assert_eq!(events[0]["type"], "hello");
    assert_eq!(events[0]["offset"], payload.len() as u64);
    assert_eq!(events[1]["type"], "snapshot", "{:?}", events[1]);
    assert_eq!(events[1]["offset"], payload.len() as u64);
    assert!(bytes.is_empty());
    let screen = render(events[1]["data"].as_str().unwrap());
    assert!(screen.trim_end().ends_with("19999 20000"), "{screen}");

    // Resuming after a byte still retained: exactly the rest, no gap, no repeat.
    let resume = payload.len() as u64 - 1000;
    let mut rest = connect(&server, &view(&format!("&since={resume}")), &[])
        .await
        .unwrap();
    let (events, bytes) = read_stream(&mut rest).await;
    assert_eq!(events[0]["offset"], resume, "{:?}", events[0]);
    assert_eq!(events[1]["type"], "output", "no snapshot: {events:?}");
    assert!(bytes == payload[resume as usize..]);

    // Asking for bytes no longer kept: a snapshot too, never a stream cut in the middle.
    let mut early = connect(&server, &view("&since=10"), &[]).await.unwrap();
    let (events, bytes) = read_stream(&mut early).await;
    assert_eq!(events[1]["type"], "snapshot", "{events:?}");
    assert!(bytes.is_empty());

    // At the end: nothing but the exit.
    let end = payload.len();
    let mut done = connect(&server, &view(&format!("&since={end}")), &[])
        .await
        .unwrap();
    let (events, bytes) = read_stream(&mut done).await;
    assert!(bytes.is_empty(), "{events:?}");

    // A malformed offset is refused before the upgrade, in the failure shape.
    match connect(&server, &view("&since=-1"), &[]).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(
                body.contains("\"ok\":false") && body.contains("since"),
                "{body}"
            );
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_stalled_during_megabytes_of_output_ends_on_the_right_screen() {
    let server = TestServer::start();
    // About 6 MB of numbered lines (the ring keeps 1 MiB), printed while the viewer reads nothing.
    let script = "read go; seq 1 800000; printf 'done\\n'";
    let terminal = start_shell(&server, json!(["-c", script]));
    let mut viewer = open(&server, &terminal).await;
    viewer
        .send(Message::Binary(b"go\n".to_vec().into()))
        .await
        .unwrap();
    wait_until_exited(&server);
    // Now read everything: what the viewer's terminal shows must be the real final screen.
    let mut parser = vt100::Parser::new(
        std::num::NonZeroU16::new(32).unwrap(),
        std::num::NonZeroU16::new(120).unwrap(),
        0,
    );
    let (events, _) =
        read_stream_feeding(&mut viewer, Duration::from_secs(30), |b| parser.process(b)).await;
    assert!(
        events.iter().any(|e| e["type"] == "snapshot"),
        "the stalled viewer fell behind: {:?}",
        events.iter().map(|e| e["type"].clone()).collect::<Vec<_>>()
    );
    let mut truth = vt100::Parser::new(
        std::num::NonZeroU16::new(32).unwrap(),
        std::num::NonZeroU16::new(120).unwrap(),
        0,
    );
    truth.process(b"go\r\n");
    for n in 1..=800_000 {
        truth.process(format!("{n}\r\n").as_bytes());
    }
    truth.process(b"done\r\n");
    assert_eq!(parser.screen().contents(), truth.screen().contents());
    assert_eq!(
        parser.screen().cursor_position(),
        truth.screen().cursor_position()
    );
}

/// Regression: the server used to drop a finished stream with the viewer's acks unread, so the
/// kernel reset the connection and the viewer lost output it had not read yet (and the exit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_pauses_after_acking_still_gets_everything() {
    let server = TestServer::start();
    let script = "stty raw -echo; head -c 400000 /dev/zero | tr '\\0' x";
    let terminal = start_shell(&server, json!(["-c", script]));
    wait_until_exited(&server);
    for _ in 0..3 {
        let mut viewer = open(&server, &terminal).await;
        // Read one frame and acknowledge it, then let the server finish while we are away.
        let (first, _) = read_until(&mut viewer, Duration::from_secs(10), |b| !b.is_empty()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rest, exit) = read_until(&mut viewer, Duration::from_secs(10), |_| false).await;
        assert_eq!(first.len() + rest.len(), 400_000);
        assert_eq!(exit.expect("the exit event arrives")["code"], 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_keeps_the_configured_scrollback() {
    let server = TestServer::start_with(&["--scrollback-kib", "16"], &[]);
    // 120,003 bytes of numbered words; only the last 16 KiB of them are kept.
    let script = "stty raw -echo; seq -w 1 20000 | tr '\\n' ' '; printf END";
    let terminal = start_shell(&server, json!(["-c", script]));
    wait_until_exited(&server);
    let (id, token) = terminal_parts(&terminal);
    let end = 20000 * 6 + 3;
    let kept = end - 16 * 1024;
    // From the oldest byte kept: exactly 16 KiB, as bytes.
    let path = format!("/ws/terminal/{id}?token={token}&since={kept}");
    let mut viewer = connect(&server, &path, &[]).await.unwrap();
    let (events, replayed) = read_stream(&mut viewer).await;
    assert_eq!(events[0]["offset"], kept);
    assert_eq!(replayed.len(), 16 * 1024);
    assert!(replayed.ends_with(b"19999 20000 END"));
    // One byte earlier is no longer there: a snapshot instead.
    let path = format!("/ws/terminal/{id}?token={token}&since={}", kept - 1);
    let mut viewer = connect(&server, &path, &[]).await.unwrap();
    let (events, replayed) = read_stream(&mut viewer).await;
    assert_eq!(events[1]["type"], "snapshot", "{events:?}");
    assert!(replayed.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_session_viewer_leaves_the_transcript_complete() {
    // An agent that waits for a line (sent once the viewer is attached), prints 200,000
    // numbered lines, then idles.
    let command = "sh -c 'read go; seq 1 200000; exec sleep 300'";
    let server = TestServer::start_with(&["--agent", "custom", "--agent-command", command], &[]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "print"}));
    let sid = started["session"]["id"].as_str().unwrap().to_string();
    let log_path = started["session"]["log_path"].as_str().unwrap().to_string();
    let view = server.post_ok(
        "/api/session_browser_terminal/start",
        json!({"session_id": sid}),
    );
    let _stalled = open(&server, &view["terminal"]).await; // never reads, never acks
    server.post_ok(
        "/api/session_input",
        json!({"session_id": sid, "input": "go"}),
    );
    let log = wait_for(Duration::from_secs(30), "the whole transcript", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("\n200000").then_some(log)
    });
    let numbers: Vec<&str> = log
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.bytes().all(|b| b.is_ascii_digit()) && !l.is_empty())
        .collect();
    assert_eq!(numbers.len(), 200_000);
    assert!(numbers
        .iter()
        .enumerate()
        .all(|(i, n)| *n == (i + 1).to_string()));
    // Another viewer still gets the live end.
    let mut fresh = open(&server, &view["terminal"]).await;
    let (tail, _) = read_until(&mut fresh, Duration::from_secs(10), |b| {
        contains(b, "200000")
    })
    .await;
    assert!(contains(&tail, "199999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_viewer_does_not_hold_back_another() {
    let server = TestServer::start();
    let terminal = start_shell(
        &server,
        json!([
            "-c",
            "sleep 0.5; yes 0123456789abcdef | head -c 8000000; echo; echo END-OF-STREAM"
        ]),
    );
    let mut stalled = open(&server, &terminal).await; // never reads, never acks
    let mut reader = open(&server, &terminal).await;
    let (bytes, exit) = read_until(&mut reader, Duration::from_secs(60), |_| false).await;
    assert!(exit.is_some(), "the reading viewer reached the end");
    assert!(contains(
        &bytes[bytes.len().saturating_sub(100)..],
        "END-OF-STREAM"
    ));
    // The stalled one is still connected and can still catch up with what is retained.
    let (tail, exit) = read_until(&mut stalled, Duration::from_secs(60), |_| false).await;
    assert!(exit.is_some());
    assert!(!tail.is_empty());
    assert!(
        server.get("/api/status").status == 200,
        "server stays responsive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_exit_output_arrives_every_time() {
    let server = TestServer::start();
    for run in 0..100 {
        let terminal = start_shell(&server, json!(["-c", format!("echo fast-{run}-done")]));
        let mut socket = open(&server, &terminal).await;
        let (bytes, exit) = read_until(&mut socket, Duration::from_secs(10), |_| false).await;
        assert!(
            contains(&bytes, &format!("fast-{run}-done")),
            "run {run}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(exit.unwrap()["code"], 0, "run {run}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_views_are_read_only_and_live() {
    let server = TestServer::start_with(&[], &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "watch me"}));
    let sid = started["session"]["id"].as_str().unwrap().to_string();
    let view = server.post_ok(
        "/api/session_browser_terminal/start",
        json!({"session_id": sid}),
    );
    assert_eq!(view["terminal"]["read_only"], true);
    assert_eq!(view["terminal"]["kind"], "session_preview");
    assert_eq!(
        view["session"]["browser_terminal_id"],
        view["terminal"]["id"]
    );
    let reused = server.post_ok(
        "/api/session_browser_terminal/start",
        json!({"session_id": sid}),
    );
    assert_eq!(reused["reused"], true);
    let mut socket = open(&server, &view["terminal"]).await;
    read_until(&mut socket, Duration::from_secs(15), |b| {
        contains(b, "Plan reported")
    })
    .await;
    socket
        .send(Message::Binary(b"typed-by-viewer\r".to_vec().into()))
        .await
        .unwrap();
    let sessions = server.get_ok("/api/status");
    let session = &sessions["sessions"][0];
    assert_eq!(session["browser_terminal_status"], "running");
    // A tokenized loopback page of this server, titled after the session.
    let url = session["browser_terminal_url"].as_str().unwrap();
    let page = format!(
        "http://127.0.0.1:{}/terminal/{}?token=",
        server.addr.port(),
        view["terminal"]["id"].as_str().unwrap()
    );
    assert!(url.starts_with(&page), "{url}");
    assert_eq!(session["browser_terminal_title"], view["terminal"]["title"]);
    assert!(!session["browser_terminal_title"]
        .as_str()
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let preview = server.get_ok("/api/status")["sessions"][0]["transcript_preview"].to_string();
    assert!(
        !preview.contains("typed-by-viewer"),
        "read-only viewer input reached the session: {preview}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_terminal_ends_its_process_group() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
    let terminal = start_shell(&server, json!(["-c", script]));
    let child: i32 = wait_for(Duration::from_secs(10), "the child pid", || {
        std::fs::read_to_string(&pidfile)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .and_then(|s| s.trim().parse().ok())
    });
    server.post_ok("/api/browser_terminal/close", json!({"id": terminal["id"]}));
    wait_for(Duration::from_secs(10), "the child to die", || {
        // SAFETY: signal 0 only checks existence.
        (unsafe { libc::kill(child, 0) } != 0).then_some(())
    });
}

/// Reads until a JSON event of this type arrives (acknowledging output on the way).
async fn next_event(socket: &mut Socket, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event"));
        match message {
            Some(Ok(Message::Binary(data))) => {
                let ack = json!({"type": "ack", "bytes": data.len()}).to_string();
                let _ = socket.send(Message::Text(ack.into())).await;
            }
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == kind {
                    return event;
                }
            }
            Some(Ok(_)) => {}
            end => panic!("stream ended waiting for {kind}: {end:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_viewer_at_a_time_controls_a_session() {
    let server = TestServer::start_with(&[], &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")]);
    let started = server.post_ok("/api/start_zhongshu_session", json!({"task": "control me"}));
    let sid = started["session"]["id"].as_str().unwrap().to_string();
    let control = server.post_ok("/api/session_control/start", json!({"session_id": sid}));
    assert_eq!(control["terminal"]["kind"], "codex_session");
    assert_eq!(control["terminal"]["read_only"], false);
    // The session's listed terminal stays its read-only view.
    assert_eq!(
        control["session"]["browser_terminal_id"],
        started["browser_terminal"]["id"]
    );

    let mut watcher = open(&server, &started["browser_terminal"]).await;
    let hello = next_event(&mut watcher, "hello").await;
    assert_eq!(
        (hello["cols"].as_u64(), hello["rows"].as_u64()),
        (Some(120), Some(32))
    );
    assert_eq!(next_event(&mut watcher, "control").await["holder"], "none");

    let mut first = open(&server, &control["terminal"]).await;
    assert_eq!(next_event(&mut first, "control").await["holder"], "you");
    assert_eq!(next_event(&mut watcher, "control").await["holder"], "other");
    read_until(&mut first, Duration::from_secs(15), |b| {
        contains(b, "Plan reported")
    })
    .await;

    // A second viewer takes control; the first one's keys no longer reach the agent.
    let mut second = open(&server, &control["terminal"]).await;
    assert_eq!(next_event(&mut second, "control").await["holder"], "you");
    assert_eq!(next_event(&mut first, "control").await["holder"], "other");
    first
        .send(Message::Binary(b"from-first\r".to_vec().into()))
        .await
        .unwrap();
    second
        .send(Message::Binary(b"from-second\r".to_vec().into()))
        .await
        .unwrap();
    read_until(&mut second, Duration::from_secs(10), |b| {
        contains(b, "Zhongshu received: from-second")
    })
    .await;

    // The holder sizes the PTY; watchers are told and follow.
    let ignored = json!({"type": "resize", "cols": 60, "rows": 10}).to_string();
    first.send(Message::Text(ignored.into())).await.unwrap();
    let resize = json!({"type": "resize", "cols": 100, "rows": 30}).to_string();
    second.send(Message::Text(resize.into())).await.unwrap();
    let seen = next_event(&mut watcher, "resize").await;
    assert_eq!(
        (seen["cols"].as_u64(), seen["rows"].as_u64()),
        (Some(100), Some(30))
    );

    // Leaving gives control back.
    drop(second);
    assert_eq!(next_event(&mut first, "control").await["holder"], "none");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let preview = server.get_ok("/api/status")["sessions"][0]["transcript_preview"].to_string();
    assert!(!preview.contains("from-first"), "{preview}");

    // Only running sessions can be controlled.
    server.post_ok("/api/close_session", json!({"session_id": sid}));
    wait_for(Duration::from_secs(10), "the session to exit", || {
        (server.get_ok("/api/status")["sessions"][0]["status"] == "exited").then_some(())
    });
    server
        .post_json(
            "/api/session_control/start",
            &json!({"session_id": sid}).to_string(),
        )
        .assert_failure(400);
}
