//! A scripted model endpoint speaking the OpenAI Responses API (`POST /v1/responses`, streamed
//! as Server-Sent Events), so the real Codex CLI runs offline in tests. What Codex 0.169 sends
//! and accepts is measured in `shared/CODEX_CLI_FACTS.md`: every request carries the whole
//! history in `input`; the TUI also asks for a JSON title (`text.format.type = json_schema`),
//! which must be answered with JSON, never with a tool call.
//!
//! The test's script sees each new user message and answers with a shell command
//! (`exec_command`) or a message. After a command's output comes back, the turn ends with
//! "Done.". Every request is recorded.

use serde_json::{json, Value};

use super::scripted::{Endpoint, Recorded, Reply, Request, RequestKind, Response, Script};

/// Starts the endpoint on a free loopback port; `script` answers each new user message. Its
/// `base_url` is a Codex model provider's `base_url` (Codex posts to `{base_url}/responses`).
pub fn start(script: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Endpoint {
    Endpoint::start("/v1", move |request: &Request| {
        if request.method != "POST" || !request.path.ends_with("/responses") {
            return (None, Response::NotFound);
        }
        let (record, events) = answer(&request.body, &script);
        (Some(record), Response::Events(events))
    })
}

fn text_of(item: &Value) -> String {
    match &item["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// Decides the answer to one request and records what it was.
fn answer(request: &Value, script: &Script) -> (Recorded, Vec<Value>) {
    let items = request["input"].as_array().cloned().unwrap_or_default();
    let user_text = items
        .iter()
        .rev()
        .find(|i| i["role"] == "user" && i["type"].as_str().unwrap_or("message") == "message")
        .map(text_of)
        .unwrap_or_default();
    let last_type = items.last().and_then(|i| i["type"].as_str()).unwrap_or("");
    let tool_output = items
        .iter()
        .rev()
        .find(|i| i["type"] == "function_call_output")
        .map(|i| match &i["output"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        });
    let (kind, reply) = if request["text"]["format"]["type"] == "json_schema" {
        (
            RequestKind::Title,
            Reply::Say(json!({"title": "Mock task"}).to_string()),
        )
    } else if last_type == "function_call_output" {
        (RequestKind::ToolOutput, Reply::Say("Done.".into()))
    } else {
        (RequestKind::UserMessage, script(&user_text))
    };
    let record = Recorded::now(kind, user_text, tool_output);
    (record, events(reply))
}

fn usage() -> Value {
    json!({"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 800},
           "output_tokens": 100, "output_tokens_details": {"reasoning_tokens": 0},
           "total_tokens": 2100})
}

/// The SSE events of one response, in the order the Responses API streams them.
fn events(reply: Reply) -> Vec<Value> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let response = json!({"id": format!("resp_{n}"), "object": "response", "status": "in_progress", "output": []});
    let mut out = vec![json!({"type": "response.created", "response": response})];
    let done = match reply {
        Reply::Exec(cmd) => {
            let arguments = json!({"cmd": cmd, "yield_time_ms": 10000}).to_string();
            let item = json!({"type": "function_call", "id": format!("fc_{n}"), "call_id": format!("call_{n}"),
                              "name": "exec_command", "arguments": "", "status": "in_progress"});
            out.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            );
            out.push(json!({"type": "response.function_call_arguments.delta", "item_id": format!("fc_{n}"),
                            "output_index": 0, "delta": arguments}));
            let mut done = item;
            done["arguments"] = json!(arguments);
            done["status"] = json!("completed");
            done
        }
        Reply::Say(text) => {
            let id = format!("msg_{n}");
            let item = json!({"type": "message", "id": id, "role": "assistant", "status": "in_progress", "content": []});
            out.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            );
            out.push(json!({"type": "response.content_part.added", "item_id": id, "output_index": 0,
                            "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}));
            out.push(
                json!({"type": "response.output_text.delta", "item_id": id, "output_index": 0,
                            "content_index": 0, "delta": text}),
            );
            out.push(
                json!({"type": "response.output_text.done", "item_id": id, "output_index": 0,
                            "content_index": 0, "text": text}),
            );
            let mut done = item;
            done["status"] = json!("completed");
            done["content"] = json!([{"type": "output_text", "text": text, "annotations": []}]);
            done
        }
    };
    out.push(json!({"type": "response.output_item.done", "output_index": 0, "item": done}));
    let mut completed = response;
    completed["status"] = json!("completed");
    completed["output"] = json!([done]);
    completed["usage"] = usage();
    out.push(json!({"type": "response.completed", "response": completed}));
    out
}
