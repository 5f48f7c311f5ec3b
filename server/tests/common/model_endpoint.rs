//! A scripted model endpoint speaking the OpenAI Responses API (`POST /v1/responses`, streamed
//! as Server-Sent Events), so the real Codex CLI runs offline in tests. What Codex 0.169 sends
//! and accepts is measured in `shared/CODEX_CLI_FACTS.md`: every request carries the whole
//! history in `input`; the TUI also asks for a JSON title (`text.format.type = json_schema`),
//! which must be answered with JSON, never with a tool call.
//!
//! The test's script sees each new user message and answers with a shell command
//! (`exec_command`) or a message. After a command's output comes back, the turn ends with
//! "Done.". Every request is recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

/// What the model does with a new user message.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Run this shell command (`exec_command {"cmd": …}`), then say "Done.".
    Exec(String),
    /// Answer with this text and end the turn.
    Say(String),
}

/// What kind of request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// The TUI's side request for a thread title.
    Title,
    /// A turn continues after a tool's output.
    ToolOutput,
    /// A new user message (its text in `Recorded::user_text`).
    UserMessage,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub kind: RequestKind,
    /// The last user message of the request's history.
    pub user_text: String,
    /// The output of the last tool call, when the request carries one.
    pub tool_output: Option<String>,
}

type Script = dyn Fn(&str) -> Reply + Send + Sync;

pub struct ModelEndpoint {
    pub port: u16,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl ModelEndpoint {
    /// Starts the endpoint on a free loopback port; `script` answers each new user message.
    pub fn start(script: impl Fn(&str) -> Reply + Send + Sync + 'static) -> ModelEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind model endpoint");
        let port = listener.local_addr().unwrap().port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let shared = recorded.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let script = script.clone();
                let recorded = shared.clone();
                std::thread::spawn(move || serve_connection(stream, &*script, &recorded));
            }
        });
        ModelEndpoint { port, recorded }
    }

    /// `base_url` for a Codex model provider.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    /// The user messages the model received, in order (each once, though every later request
    /// repeats the history).
    pub fn user_messages(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.kind == RequestKind::UserMessage)
            .collect()
    }
}

/// Serves one keep-alive connection: requests one after another until the client closes it.
fn serve_connection(stream: TcpStream, script: &Script, recorded: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if !request_line.starts_with("POST ") || !request_line.contains("/responses") {
            let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (record, events) = answer(&request, script);
        recorded.lock().unwrap().push(record);
        if write_events(&mut writer, &events).is_err() {
            return;
        }
    }
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
    let record = Recorded {
        at: Instant::now(),
        kind,
        user_text,
        tool_output,
    };
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

fn write_events(writer: &mut TcpStream, events: &[Value]) -> std::io::Result<()> {
    writer.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n",
    )?;
    for event in events {
        let chunk = format!(
            "event: {}\ndata: {}\n\n",
            event["type"].as_str().unwrap_or(""),
            event
        );
        write!(writer, "{:x}\r\n{chunk}\r\n", chunk.len())?;
    }
    writer.write_all(b"0\r\n\r\n")?;
    writer.flush()
}
