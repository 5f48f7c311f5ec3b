//! The served OpenAPI document against the real server: every operation it lists is answered,
//! with a status code it documents and failures in the failure shape; and regression tests for
//! what the API fuzz run (`end2end/api/fuzz.py`) found.

mod common;

use std::time::Duration;

use common::{wait_for, TestServer};
use serde_json::json;

#[test]
fn every_documented_operation_answers_with_a_documented_status() {
    // `browser_terminal/start {}` runs $SHELL: `cat`, not the user's shell, whose startup files
    // (pyenv's rehash) would be killed mid-way when the server stops and leave a lock behind.
    let server = TestServer::start_with(&[], &[("SHELL", "/bin/cat")]);
    let response = server.get("/api/openapi.json");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let document = response.json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 28, "{:?}", paths.keys());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let documented = operation["responses"].as_object().unwrap();
            if path == "/api/events" {
                // An endless stream: its head is enough.
                let mut events = server.open_events(Duration::from_secs(5));
                events.wait_for_event("hello");
                continue;
            }
            // The emptiest request (no parameters, an empty object as the body), then one that
            // names ids no session, terminal or result has.
            let unknown = operation["parameters"]
                .as_array()
                .map(|params| {
                    let pairs: Vec<String> = params
                        .iter()
                        .map(|p| format!("{}=zz-unknown-1", p["name"].as_str().unwrap()))
                        .collect();
                    format!("{path}?{}", pairs.join("&"))
                })
                .unwrap_or_else(|| path.clone());
            let requests = match method.as_str() {
                "get" => vec![server.get(path), server.get(&unknown)],
                "post" => vec![
                    server.post_json(path, "{}"),
                    server.post_json(path, UNKNOWN_IDS),
                ],
                other => panic!("{path}: unexpected method {other}"),
            };
            for answer in requests {
                let status = answer.status.to_string();
                assert!(
                    documented.contains_key(&status),
                    "{method} {path} answered {status}, documented {:?}: {}",
                    documented.keys(),
                    answer.text()
                );
                if answer.status >= 400 {
                    let error = answer.assert_failure(answer.status);
                    assert!(!error.starts_with("unknown API route"), "{path}: {error}");
                } else if path != "/api/openapi.json" {
                    assert_eq!(answer.json()["ok"], true, "{method} {path}");
                }
            }
        }
    }
}

/// A body whose ids name nothing that exists (the other fields valid).
const UNKNOWN_IDS: &str = r#"{"session_id": "zz-unknown-1", "parent_session_id": "zz-unknown-1",
    "id": "zz-unknown-1", "department": "zhilibu", "task": "t", "input": "x",
    "assignments": [{"department": "zhilibu", "task": "t"}]}"#;

#[test]
fn the_document_describes_the_failure_shape_and_the_live_protocols() {
    let server = TestServer::start();
    let document = server.get_ok("/api/openapi.json");
    assert_eq!(
        document["components"]["schemas"]["ApiFailure"]["required"],
        json!(["ok", "error"])
    );
    let status = &document["paths"]["/api/status"]["get"];
    assert_eq!(
        status["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StatusPayload"
    );
    assert!(status["responses"]["304"].is_object(), "the ETag answer");
    let description = document["info"]["description"].as_str().unwrap();
    for needle in ["/ws/terminal/{id}", "/api/events", "README.md"] {
        assert!(description.contains(needle), "{needle} in {description}");
    }
    // Field descriptions come from the types' doc comments.
    let workspace = &document["components"]["schemas"]["Workspace"]["properties"]["path"];
    assert!(
        workspace["description"]
            .as_str()
            .is_some_and(|d| d.contains("directory the agent works in")),
        "{workspace}"
    );
    // Required request fields are marked so.
    let request = &document["components"]["schemas"]["SessionInputRequest"];
    assert_eq!(request["required"], json!(["session_id", "input"]));
}

/// Found by the fuzzer: an unknown `session_id` was a 500 ("missing from the state").
#[test]
fn the_diff_of_an_unknown_session_is_a_404() {
    let server = TestServer::start();
    let answer = server.get("/api/department_diff?session_id=gongbu-0000");
    let error = answer.assert_failure(404);
    assert_eq!(error, "unknown session_id: gongbu-0000");
    let malformed = server.get("/api/department_diff?session_id=..%2Fetc");
    malformed.assert_failure(400);
}

/// Found by the fuzzer: every `start_zhongshu_session` started an agent process, without bound
/// (a two-minute run left 409 of them running).
#[test]
fn zhongshu_sessions_are_bounded() {
    let server = TestServer::start_with(&["--max-zhongshu-sessions", "2"], &[]);
    let start = || server.post_json("/api/start_zhongshu_session", r#"{"task": "plan"}"#);
    let first = start().json()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(start().status, 200);
    let error = start().assert_failure(400);
    assert!(error.contains("2 Zhongshu sessions are running"), "{error}");
    server.post_ok("/api/close_session", json!({"session_id": first}));
    // Its slot is free once its process has ended.
    wait_for(Duration::from_secs(10), "a closed session's slot", || {
        (start().status == 200).then_some(())
    });
}
