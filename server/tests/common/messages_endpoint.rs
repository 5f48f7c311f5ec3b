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

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

/// What the model does with a new user message.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Run this shell command (`Bash {"command": …}`), then say "Done.".
    Exec(String),
    /// Answer with this text and end the turn.
    Say(String),
}

/// What kind of request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// A side request that wants JSON (`output_config.format` is a JSON schema: the title).
    Title,
    /// Another side request: no tools offered (summaries, checks).
    Side,
    /// A turn continues after a tool's result.
    ToolOutput,
    /// A new user message (its text in `Recorded::user_text`).
    UserMessage,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub kind: RequestKind,
    /// The user's own text in the last user turn (Claude Code's `<system-reminder>` blocks left
    /// out); for a tool result, any text that came with it.
    pub user_text: String,
    /// The result of the last tool call, when the last user turn carries one (reminders cut off).
    pub tool_output: Option<String>,
}

type Script = dyn Fn(&str) -> Reply + Send + Sync;

pub struct MessagesEndpoint {
    pub port: u16,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl MessagesEndpoint {
    /// Starts the endpoint on a free loopback port; `script` answers each new user message.
    pub fn start(script: impl Fn(&str) -> Reply + Send + Sync + 'static) -> MessagesEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind messages endpoint");
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
        MessagesEndpoint { port, recorded }
    }

    /// `ANTHROPIC_BASE_URL` (Claude Code appends `/v1/messages`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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

/// One HTTP request: the request line and the body (content-length or chunked).
fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(content_length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((request_line, body))
}

/// Serves one keep-alive connection: requests one after another until the client closes it.
fn serve_connection(stream: TcpStream, script: &Script, recorded: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    while let Some((request_line, body)) = read_request(&mut reader) {
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or("");
        let path = words.next().unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let written = match (method, path) {
            ("POST", "/v1/messages/count_tokens") => {
                write_json(&mut writer, &json!({"input_tokens": 100}), false)
            }
            ("POST", "/v1/messages") if request.is_object() => {
                let (record, reply) = answer(&request, script);
                recorded.lock().unwrap().push(record);
                let model = request["model"].as_str().unwrap_or("mock-model");
                if request["stream"] == true {
                    write_events(&mut writer, &events(model, &reply))
                } else {
                    write_json(&mut writer, &message(model, &reply), false)
                }
            }
            ("HEAD", _) => write_json(&mut writer, &json!({}), true),
            _ => write_json(&mut writer, &json!({}), false),
        };
        if written.is_err() {
            return;
        }
    }
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
    let record = Recorded {
        at: Instant::now(),
        kind,
        user_text,
        tool_output,
    };
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

fn write_json(writer: &mut TcpStream, body: &Value, head: bool) -> std::io::Result<()> {
    let body = body.to_string();
    write!(
        writer,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nrequest-id: req_mock\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    if !head {
        writer.write_all(body.as_bytes())?;
    }
    writer.flush()
}

fn write_events(writer: &mut TcpStream, events: &[Value]) -> std::io::Result<()> {
    writer.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nrequest-id: req_mock\r\nTransfer-Encoding: chunked\r\n\r\n",
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
