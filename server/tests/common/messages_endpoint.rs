//! A scripted model endpoint speaking the Anthropic Messages API (`POST /v1/messages`, streamed
//! as Server-Sent Events), so the real Claude Code CLI runs offline in tests. What Claude Code
//! 2.1.332 sends: every request carries the whole history in `messages`; a user turn is a list
//! of content blocks, where Claude Code adds its own `<system-reminder>` text blocks next to the
//! user's text (and appends them to tool results); the main loop offers its tools (the shell is
//! `Bash {"command", "description"}`); side requests (a session title, answered with JSON when
//! `output_config.format` is a JSON schema) offer no tools. `count_tokens` and anything else get
//! a harmless answer.
//!
//! The test's script sees each new user message and answers with a shell command (a `Bash`
//! tool call) or a message. After a tool's result comes back, the turn ends with "Done.".
//! Every request to `/v1/messages` is recorded.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

use super::scripted::{Endpoint, Recorded, Reply, Request, RequestKind, Response, Script};

/// Starts the endpoint on a free loopback port; `script` answers each new user message. Its
/// `base_url` is `ANTHROPIC_BASE_URL` (Claude Code appends `/v1/messages`).
pub fn start(script: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Endpoint {
    Endpoint::start("", move |request: &Request| {
        let json = |body: Value, head: bool| Response::Json { body, head };
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/v1/messages/count_tokens") => {
                (None, json(json!({"input_tokens": 100}), false))
            }
            ("POST", "/v1/messages") if request.body.is_object() => {
                let (record, reply) = answer(&request.body, &script);
                let model = request.body["model"].as_str().unwrap_or("mock-model");
                let response = if request.body["stream"] == true {
                    Response::Events(events(model, &reply))
                } else {
                    json(message(model, &reply), false)
                };
                (Some(record), response)
            }
            ("HEAD", _) => (None, json(json!({}), true)),
            _ => (None, json(json!({}), false)),
        }
    })
}

fn is_reminder(text: &str) -> bool {
    text.trim_start().starts_with("<system-reminder>")
}

/// The user's own text of one turn: its text blocks without Claude Code's reminders.
fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .filter(|t| !is_reminder(t))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The text of a tool result, without the reminders Claude Code appends to it.
fn tool_result_text(block: &Value) -> String {
    let text = match &block["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        other => other.to_string(),
    };
    text.split("<system-reminder>")
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string()
}

/// Decides the answer to one request and records what it was.
fn answer(request: &Value, script: &Script) -> (Recorded, Reply) {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let last_user = messages.iter().rev().find(|m| m["role"] == "user");
    let user_text = last_user.map(text_of).unwrap_or_default();
    let tool_output = last_user
        .and_then(|m| m["content"].as_array())
        .and_then(|blocks| blocks.iter().rev().find(|b| b["type"] == "tool_result"))
        .map(tool_result_text);
    let offers_tools = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (kind, reply) = if request["output_config"]["format"]["type"] == "json_schema" {
        (
            RequestKind::Title,
            Reply::Say(json!({"title": "Mock task"}).to_string()),
        )
    } else if !offers_tools {
        (RequestKind::Side, Reply::Say("Mock task".into()))
    } else if tool_output.is_some() {
        (RequestKind::ToolOutput, Reply::Say("Done.".into()))
    } else {
        (RequestKind::UserMessage, script(&user_text))
    };
    let record = Recorded::now(kind, user_text, tool_output);
    (record, reply)
}

fn usage(output_tokens: u64) -> Value {
    json!({"input_tokens": 2000, "output_tokens": output_tokens,
           "cache_creation_input_tokens": 0, "cache_read_input_tokens": 800})
}

/// The content blocks and stop reason of a reply.
fn content(reply: &Reply) -> (Vec<Value>, &'static str) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    match reply {
        Reply::Exec(cmd) => {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            (
                vec![
                    json!({"type": "text", "text": "Running the command."}),
                    json!({"type": "tool_use", "id": format!("toolu_mock_{n:016}"), "name": "Bash",
                           "input": {"command": cmd, "description": "Run the scripted command"}}),
                ],
                "tool_use",
            )
        }
        Reply::Say(text) => (vec![json!({"type": "text", "text": text})], "end_turn"),
    }
}

fn message_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("msg_mock_{:016}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A whole (non-streamed) message.
fn message(model: &str, reply: &Reply) -> Value {
    let (content, stop_reason) = content(reply);
    json!({"id": message_id(), "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": stop_reason, "stop_sequence": null,
           "usage": usage(20)})
}

/// The SSE events of one streamed message, in the order the Messages API sends them.
fn events(model: &str, reply: &Reply) -> Vec<Value> {
    let (content, stop_reason) = content(reply);
    let start = json!({"id": message_id(), "type": "message", "role": "assistant", "model": model,
                       "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(1)});
    let mut out = vec![
        json!({"type": "message_start", "message": start}),
        json!({"type": "ping"}),
    ];
    for (index, block) in content.iter().enumerate() {
        if block["type"] == "tool_use" {
            let mut started = block.clone();
            started["input"] = json!({});
            out.push(
                json!({"type": "content_block_start", "index": index, "content_block": started}),
            );
            out.push(json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta",
                                      "partial_json": block["input"].to_string()}}));
        } else {
            out.push(json!({"type": "content_block_start", "index": index,
                            "content_block": {"type": "text", "text": ""}}));
            out.push(json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "text_delta", "text": block["text"]}}));
        }
        out.push(json!({"type": "content_block_stop", "index": index}));
    }
    out.push(json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                    "usage": {"output_tokens": 20}}));
    out.push(json!({"type": "message_stop"}));
    out
}
