//! A slow disk must not stall the server: engine calls (SQLite, process spawns, file IO under the
//! engine lock) run off the async reactor, so the push stream and new connections are served
//! while they wait. The debug build's `CODEX_GOVERNANCE_TEST_STORE_DELAY_MS` makes every SQLite
//! commit that slow.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;

/// Opens the push stream and returns how long its `hello` event took.
fn time_to_hello(server: &TestServer) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.host()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream closed");
        if line.starts_with("event: hello") {
            return started.elapsed();
        }
    }
}

#[test]
fn the_push_stream_answers_while_engine_calls_wait_on_a_slow_disk() {
    let server = TestServer::start_with(
        &[],
        &[
            ("CODEX_GOVERNANCE_TEST_STORE_DELAY_MS", "400"),
            ("CODEX_GOVERNANCE_DEMO_STEP_MS", "50"),
        ],
    );
    let idle = time_to_hello(&server);
    std::thread::scope(|scope| {
        // More slow engine calls at once than the runtime has worker threads.
        for n in 0..4 {
            let server = &server;
            scope.spawn(move || {
                server.post_ok(
                    "/api/start_zhongshu_session",
                    serde_json::json!({"task": format!("slow disk {n}")}),
                );
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let busy = time_to_hello(&server);
        assert!(
            busy < Duration::from_millis(500),
            "the push stream waited {busy:?} for engine calls (idle: {idle:?})"
        );
    });
}
