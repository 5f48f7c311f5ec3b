//! What the scripted model endpoints share: a loopback HTTP/1.1 server (keep-alive, bodies by
//! length or chunked), the script's replies, and the record of every request. The wire formats
//! live in `model_endpoint.rs` (OpenAI Responses API) and `messages_endpoint.rs` (Anthropic
//! Messages API).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

/// What the model does with a new user message.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Run this shell command, then say "Done." once its output comes back.
    Exec(String),
    /// Answer with this text and end the turn.
    Say(String),
}

/// What kind of request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// A side request that wants JSON (the thread title).
    Title,
    /// Another side request: no tools offered (summaries, checks).
    Side,
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

impl Recorded {
    /// A request that arrived now.
    pub fn now(kind: RequestKind, user_text: String, tool_output: Option<String>) -> Recorded {
        Recorded {
            at: Instant::now(),
            kind,
            user_text,
            tool_output,
        }
    }
}

/// The test's script: a reply for each new user message.
pub type Script = dyn Fn(&str) -> Reply + Send + Sync;

/// One request as the wire format sees it.
pub struct Request {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// The JSON body (`Null` when there is none).
    pub body: Value,
}

/// How a wire format answers a request.
pub enum Response {
    Json { body: Value, head: bool },
    Events(Vec<Value>),
    NotFound,
}

pub struct Endpoint {
    pub port: u16,
    base_path: &'static str,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl Endpoint {
    /// Serves `answer` on a free loopback port; each answer may record the request.
    pub fn start(
        base_path: &'static str,
        answer: impl Fn(&Request) -> (Option<Recorded>, Response) + Send + Sync + 'static,
    ) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind model endpoint");
        let port = listener.local_addr().unwrap().port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let shared = recorded.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answer = answer.clone();
                let recorded = shared.clone();
                std::thread::spawn(move || serve_connection(stream, &*answer, &recorded));
            }
        });
        Endpoint {
            port,
            base_path,
            recorded,
        }
    }

    /// The base URL an agent CLI is configured with.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.base_path)
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

    /// How many turns continued after a tool's output.
    pub fn tool_turns(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.kind == RequestKind::ToolOutput)
            .count()
    }
}

/// Serves one keep-alive connection: requests one after another until the client closes it.
fn serve_connection(
    stream: TcpStream,
    answer: &(dyn Fn(&Request) -> (Option<Recorded>, Response) + Send + Sync),
    recorded: &Mutex<Vec<Recorded>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        let (record, response) = answer(&request);
        if let Some(record) = record {
            recorded.lock().unwrap().push(record);
        }
        let written = match response {
            Response::Json { body, head } => write_json(&mut writer, &body, head),
            Response::Events(events) => write_events(&mut writer, &events),
            Response::NotFound => writer
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .and_then(|_| writer.flush()),
        };
        if written.is_err() {
            return;
        }
    }
}

/// One HTTP request: the request line and the body (by content-length or chunked).
fn read_request(reader: &mut impl BufRead) -> Option<Request> {
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
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("");
    Some(Request {
        method,
        path: path.split('?').next().unwrap_or("").to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
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

/// Server-Sent Events, chunked, each named after its `type`.
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
