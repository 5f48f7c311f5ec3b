//! The HTTP foundation against the real binary: status payload, failure shape, security guard.

mod common;

use common::TestServer;

#[test]
fn status_is_a_get_server_function_with_the_spec_shape() {
    let server = TestServer::start();
    let response = server.get("/api/status");
    assert_eq!(response.status, 200, "{}", response.text());
    let json = response.json();
    assert_eq!(json["ok"], true);
    assert!(json["api_version"].as_u64().unwrap() >= 7);
    assert_eq!(
        json["repo"],
        server
            .repo_path()
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    );
    assert_eq!(json["max_department_sessions"], 2);
    assert_eq!(
        json["model_choices"],
        serde_json::json!(["gpt-5.5", "gpt-5.4"])
    );
    assert_eq!(json["zhongshu_model"], "gpt-5.5");
    assert_eq!(json["department_model"], "gpt-5.4");
    assert_eq!(json["agent"]["name"], "demo");
    assert_eq!(json["agent"]["available"], true);
    assert_eq!(json["dispatch"], "confirm");
    let departments = json["departments"].as_object().unwrap();
    for key in ["menxia", "zhilibu", "gongchengbu", "lingyubu"] {
        assert_eq!(departments[key].as_array().unwrap().len(), 2, "{key}");
    }
    for list in [
        "sessions",
        "zhongshu_sessions",
        "department_sessions",
        "queue",
        "department_queue",
        "browser_terminals",
    ] {
        assert_eq!(json[list], serde_json::json!([]), "{list}");
    }
    // The alias answers the same payload.
    assert_eq!(
        server.get("/api/sessions").json()["api_version"],
        json["api_version"]
    );
}

#[test]
fn configuration_reaches_the_status_payload() {
    let server = TestServer::start_with(
        &["--max-departments", "3"],
        &[
            ("CODEX_GOVERNANCE_MODELS", "m1, m2 ,m3"),
            ("CODEX_GOVERNANCE_DISPATCH", "auto"),
        ],
    );
    let json = server.get("/api/status").json();
    assert_eq!(json["max_department_sessions"], 3);
    assert_eq!(json["model_choices"], serde_json::json!(["m1", "m2", "m3"]));
    assert_eq!(json["department_model"], "m3");
    assert_eq!(json["dispatch"], "auto");
}

#[test]
fn unknown_api_routes_and_wrong_methods_answer_in_the_failure_shape() {
    let server = TestServer::start();
    let error = server.get("/api/does_not_exist").assert_failure(404);
    assert!(error.contains("/api/does_not_exist"), "{error}");
    server.post_json("/api/status", "{}").assert_failure(405);
}

/// Found by the fuzzer (schemathesis' unsupported-method check): a method no route has, or a
/// POST without a JSON body to a GET route, was answered 415 (asking for a JSON body) instead of
/// 405, and no 405 said which methods the route takes.
#[test]
fn an_undeclared_method_is_a_405_with_allow() {
    let server = TestServer::start();
    for method in ["TRACE", "PUT", "DELETE", "PATCH"] {
        let answer = server.request(method, "/api/status", &[], None);
        answer.assert_failure(405);
        assert_eq!(answer.header("allow"), Some("GET"), "{method}");
    }
    let answer = server.request("POST", "/api/workspaces", &[], Some("x"));
    answer.assert_failure(405);
    assert_eq!(answer.header("allow"), Some("GET"));
    let answer = server.get("/api/close_session");
    answer.assert_failure(405);
    assert_eq!(answer.header("allow"), Some("POST"));
    // HEAD of a GET route is not refused.
    assert_ne!(server.request("HEAD", "/api/status", &[], None).status, 405);
}

#[test]
fn foreign_or_missing_host_is_forbidden_everywhere() {
    let server = TestServer::start();
    let port = server.addr.port();
    for host in [
        format!("attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        format!("0.0.0.0:{port}"),
    ] {
        for path in ["/api/status", "/"] {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            server.raw(request.as_bytes()).assert_failure(403);
        }
    }
    // No Host at all: refused on the API and on pages alike.
    for path in ["/api/status", "/", "/pkg/codex-governance.css"] {
        let request = format!("GET {path} HTTP/1.0\r\n\r\n");
        server.raw(request.as_bytes()).assert_failure(403);
        let request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n");
        server.raw(request.as_bytes()).assert_failure(403);
    }
    assert_eq!(server.request("GET", "/api/status", &[], None).status, 200);
}

#[test]
fn cross_origin_writes_are_refused_and_cors_is_never_wildcard() {
    let server = TestServer::start();
    let port = server.addr.port();
    for origin in [
        "https://evil.example".to_string(),
        "null".into(),
        format!("http://127.0.0.1:{port}.evil.example"),
        "http://127.0.0.1:1".into(),
    ] {
        let response = server.request(
            "POST",
            "/api/does_not_exist",
            &[("Content-Type", "application/json"), ("Origin", &origin)],
            Some("{}"),
        );
        response.assert_failure(403);
        assert!(response.header("access-control-allow-origin").is_none());
        let read = server.request("GET", "/api/status", &[("Origin", &origin)], None);
        assert!(
            read.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // Same origin passes the guard (and then meets the unknown route).
    let own = server.origin();
    server
        .request(
            "POST",
            "/api/does_not_exist",
            &[("Content-Type", "application/json"), ("Origin", &own)],
            Some("{}"),
        )
        .assert_failure(404);
}

#[test]
fn configured_origins_get_an_exact_cors_answer() {
    let server = TestServer::start_with(
        &[],
        &[("CODEX_GOVERNANCE_ALLOW_ORIGIN", "https://tools.example")],
    );
    let response = server.request(
        "GET",
        "/api/status",
        &[("Origin", "https://tools.example")],
        None,
    );
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://tools.example")
    );
    let preflight = server.request(
        "OPTIONS",
        "/api/start_zhongshu_session",
        &[("Origin", "https://tools.example")],
        None,
    );
    assert_eq!(preflight.status, 204);
    server
        .request(
            "OPTIONS",
            "/api/status",
            &[("Origin", "https://evil.example")],
            None,
        )
        .assert_failure(403);
}

#[test]
fn bodies_must_be_small_well_formed_json() {
    let server = TestServer::start();
    server
        .request(
            "POST",
            "/api/does_not_exist",
            &[("Content-Type", "text/plain")],
            Some("{}"),
        )
        .assert_failure(415);
    server
        .request(
            "POST",
            "/api/does_not_exist",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some("a=b"),
        )
        .assert_failure(415);
    server
        .post_json("/api/does_not_exist", "{not json")
        .assert_failure(400);
    server
        .post_json("/api/does_not_exist", &"[".repeat(100_000))
        .assert_failure(400);

    let big = format!("\"{}\"", "x".repeat(10 * 1024 * 1024));
    server
        .post_json("/api/does_not_exist", &big)
        .assert_failure(413);
    // Without Content-Length: chunked upload past the limit.
    let mut raw = format!(
        "POST /api/does_not_exist HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.host()
    )
    .into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..(2 * 1024 * 1024 / chunk.len()) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    server.raw(&raw).assert_failure(413);
}

#[test]
fn the_dashboard_page_is_served_with_hardening_headers() {
    let server = TestServer::start();
    let page = server.get("/");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("codex-governance"), "{html}");
    assert!(
        html.contains("/pkg/codex-governance.js"),
        "hydration script missing"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn invalid_utf8_in_a_json_body_is_a_client_error() {
    let server = TestServer::start();
    let mut raw = format!(
        "POST /api/start_zhongshu_session HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n",
        server.host()
    )
    .into_bytes();
    raw.extend_from_slice(b"{\"task\": \"\xff\xfe\"}  ");
    server.raw(&raw).assert_failure(400);
    assert_eq!(
        server.get("/api/status").json()["sessions"],
        serde_json::json!([])
    );
}

#[test]
fn symlinks_planted_in_the_state_dir_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    for planted in [
        "codex_governance_logs",
        "codex_governance_audit.jsonl",
        "codex_governance_mailbox",
    ] {
        let repo = tempfile::tempdir().unwrap();
        git2::Repository::init(repo.path()).unwrap();
        let state = repo.path().join(".tmp");
        std::fs::create_dir_all(&state).unwrap();
        std::os::unix::fs::symlink(outside.path(), state.join(planted)).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_codex-governance"))
            .args(["serve", "--port", "0", "--repo"])
            .arg(repo.path())
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "{planted}: the server started anyway"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("outside the state directory"),
            "{planted}: {stderr}"
        );
    }
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing was written outside"
    );
}

#[test]
fn a_fifo_or_symlink_planted_at_a_transcript_neither_hangs_nor_leaks_on_restart() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "SECRET-OUTSIDE-THE-STATE-DIR\n").unwrap();
    // Sessions that die with the server (no PTY host): their previews are read from the
    // transcripts at the restart.
    let mut server = TestServer::start_with(
        &["--no-pty-host"],
        &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")],
    );
    let mut logs = Vec::new();
    for task in ["fifo", "symlink"] {
        let started = server.post_ok(
            "/api/start_zhongshu_session",
            serde_json::json!({"task": task}),
        );
        logs.push(started["session"]["log_path"].as_str().unwrap().to_string());
    }
    // The server dies; while it is down someone plants a FIFO and a symlink at the logs.
    server.stop_with(libc::SIGKILL);
    std::fs::remove_file(&logs[0]).unwrap();
    let name = std::ffi::CString::new(logs[0].as_bytes()).unwrap();
    // SAFETY: mkfifo only creates a file system node.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    std::fs::remove_file(&logs[1]).unwrap();
    std::os::unix::fs::symlink(secret.path(), &logs[1]).unwrap();

    // Restarting must not block on the FIFO (the harness waits for the URL line).
    let (done, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let server = server.restart(&["--no-pty-host"], &[]);
        let _ = done.send(server);
    });
    let server = started
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the restarted server came up");
    let status = server.get("/api/status").json();
    let sessions = status["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    for session in sessions {
        assert_eq!(session["status"], "interrupted");
        assert!(
            !session["transcript_preview"].to_string().contains("SECRET"),
            "{session}"
        );
    }
}

#[test]
fn status_answers_304_while_nothing_changed_and_the_new_state_after_a_change() {
    let server = TestServer::start_with(&[], &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")]);
    let first = server.get("/api/status");
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag").to_string();
    // No sessions: nothing in the payload moves with time.
    let again = server.request("GET", "/api/status", &[("If-None-Match", &etag)], None);
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert!(again.text().is_empty());
    let listed = server.get("/api/zhongshu_sessions");
    let listed_etag = listed.header("etag").expect("an ETag").to_string();
    assert_eq!(listed.json()["zhongshu_sessions"], serde_json::json!([]));
    let listed_again = server.request(
        "GET",
        "/api/zhongshu_sessions",
        &[("If-None-Match", &listed_etag)],
        None,
    );
    assert_eq!(listed_again.status, 304);
    server.post_ok(
        "/api/start_zhongshu_session",
        serde_json::json!({"task": "change it"}),
    );
    let changed = server.request("GET", "/api/sessions", &[("If-None-Match", &etag)], None);
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert_eq!(changed.json()["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(changed.header("x-content-type-options"), Some("nosniff"));
    let listed = server.request(
        "GET",
        "/api/zhongshu_sessions",
        &[("If-None-Match", &listed_etag)],
        None,
    );
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json()["zhongshu_sessions"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn status_is_gzip_compressed_for_clients_that_accept_it() {
    let server = TestServer::start_with(&[], &[]);
    let plain = server.get("/api/status");
    let compressed = server.request(
        "GET",
        "/api/status",
        &[("Accept-Encoding", "gzip, br")],
        None,
    );
    assert_eq!(compressed.status, 200);
    assert_eq!(compressed.header("content-encoding"), Some("gzip"));
    assert_ne!(compressed.header("etag"), plain.header("etag"));
    let mut json = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed.body[..]),
        &mut json,
    )
    .unwrap();
    assert_eq!(json, plain.body);
    let etag = compressed.header("etag").unwrap().to_string();
    let again = server.request(
        "GET",
        "/api/status",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)],
        None,
    );
    assert_eq!(again.status, 304);
}
