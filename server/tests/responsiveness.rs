//! A slow disk must not stall the server: engine calls (SQLite, process spawns, file IO under the
//! engine lock) run off the async reactor, so the push stream and new connections are served
//! while they wait. The debug build's `CODEX_GOVERNANCE_TEST_STORE_DELAY_MS` makes every SQLite
//! commit that slow.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;

/// Opens the push stream and returns how long its `hello` event took.
fn time_to_hello(server: &TestServer) -> Duration {
    let started = Instant::now();
    server
        .open_events(Duration::from_secs(30))
        .wait_for_event("hello");
    started.elapsed()
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
