//! Terminal viewers over WebSockets (`GET /ws/terminal/{id}?token=`), and the token check of
//! the terminal page (`GET /terminal/{id}?token=`).
//!
//! Protocol (also in README): server → client binary frames carry raw PTY bytes (the retained
//! tail first, then live output); text frames carry JSON events `hello`, `skipped`, `exit`.
//! Every byte a terminal prints has a stream offset, from 0. `?since=N` starts the stream after
//! byte N when that is still retained; a viewer that would start in the middle of the stream
//! (the retained output lost its beginning, or the viewer fell behind it) first gets a
//! `snapshot` of the server's emulated screen (`pty/screen.rs`) and continues from its offset;
//! a finished session's transcript replay says what it left out with `skipped`;
//! `hello.offset` is the offset of the first byte that follows and `skipped.offset` the offset
//! of the next byte, so a viewer always knows where it is and can resume after a reconnect.
//! Client → server binary frames carry input (ignored for read-only terminals); text frames carry
//! `{"type":"resize","cols":C,"rows":R}` and `{"type":"ack","bytes":N}`. The server keeps at most
//! [`HIGH_WATERMARK`] unacknowledged bytes in flight per viewer, so a slow viewer never holds
//! back the process, the transcript or other viewers: it reads from the bounded ring at its own
//! pace and skips ahead if it falls further behind than the ring holds.

use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use app::api::{ClientControl, ControlHolder, ServerEvent};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use serde::Deserialize;

use super::failure::failure;
use crate::engine::{Engine, ViewSource, Viewer, ViewerRefusal};
use crate::pty::{Output, PtyProcess};

/// Unacknowledged output bytes allowed in flight per viewer.
pub const HIGH_WATERMARK: u64 = 512 * 1024;
/// Largest output frame.
const CHUNK: usize = 64 * 1024;
/// How long a finished stream waits for the viewer's Close reply.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// Largest message a viewer may send.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// A viewer's query: its token, and where in the output stream to start.
#[derive(Debug, Deserialize)]
struct ViewerQuery {
    token: Option<String>,
    /// Resume after this many bytes of output (the offset of the next byte wanted).
    since: Option<u64>,
}

fn refusal(reason: ViewerRefusal) -> Response {
    match reason {
        ViewerRefusal::MissingToken => failure(StatusCode::UNAUTHORIZED, "terminal token required"),
        ViewerRefusal::WrongToken => {
            failure(StatusCode::FORBIDDEN, "terminal token does not match")
        }
        ViewerRefusal::UnknownTerminal => failure(StatusCode::NOT_FOUND, "unknown terminal"),
    }
}

/// Checks a viewer's token off the reactor (it takes the engine lock, which a slow disk can hold).
async fn admit(engine: Engine, id: String, token: Option<String>) -> Result<Viewer, ViewerRefusal> {
    tokio::task::spawn_blocking(move || engine.open_viewer(&id, token.as_deref()))
        .await
        .unwrap_or(Err(ViewerRefusal::UnknownTerminal))
}

/// Refuses the terminal page without the terminal's token (the page itself holds no secret,
/// but it must not become a way to probe terminals).
pub async fn page_guard(State(engine): State<Engine>, request: Request, next: Next) -> Response {
    if let Some(id) = request.uri().path().strip_prefix("/terminal/") {
        let token = request
            .uri()
            .query()
            .and_then(|q| serde_urlencoded::from_str::<TokenQuery>(q).ok())
            .and_then(|q| q.token);
        let id = id.trim_end_matches('/').to_string();
        if let Err(reason) = admit(engine, id, token).await {
            return refusal(reason);
        }
    }
    next.run(request).await
}

/// The terminal WebSocket's route.
pub const SOCKET_PATH: &str = "/ws/terminal/{id}";

pub async fn upgrade(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let Ok(query) = serde_urlencoded::from_str::<ViewerQuery>(query.as_deref().unwrap_or(""))
    else {
        return failure(
            StatusCode::BAD_REQUEST,
            "since must be a byte offset (a whole number of bytes, 0 or more)",
        );
    };
    // Authenticate before upgrading: a refused viewer never gets a 101.
    let viewer = match admit(engine, id, query.token).await {
        Ok(viewer) => viewer,
        Err(reason) => return refusal(reason),
    };
    let since = query.since;
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            if let Err(err) = serve_viewer(socket, viewer, since).await {
                tracing::debug!(%err, "terminal viewer ended");
            }
        })
        .into_response()
}

async fn send_event(
    socket: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    event: &ServerEvent,
) -> Result<(), axum::Error> {
    let text = serde_json::to_string(event).map_err(axum::Error::new)?;
    socket.send(Message::Text(text.into())).await
}

/// Where a viewer's stream starts: after byte `since` when asked (never past the end), else at
/// the oldest byte retained; and how many bytes asked for are no longer there.
fn stream_start(since: Option<u64>, retained_start: u64, end: u64) -> (u64, u64) {
    match since {
        Some(since) => {
            let start = since.clamp(retained_start, end);
            (start, start.saturating_sub(since))
        }
        None => (retained_start, 0),
    }
}

async fn serve_viewer(
    socket: WebSocket,
    viewer: Viewer,
    since: Option<u64>,
) -> Result<(), axum::Error> {
    let (mut sink, mut incoming) = socket.split();
    let terminal = &viewer.terminal;
    let hello = |cols, rows, offset| ServerEvent::Hello {
        id: terminal.id.clone(),
        title: terminal.title.clone(),
        read_only: terminal.read_only,
        cols,
        rows,
        offset,
    };
    let process = match viewer.source {
        ViewSource::Live(process) => process,
        ViewSource::Ended {
            paths,
            transcript,
            exit_code,
            tail_bytes,
        } => {
            // Replay the transcript of a finished process (its end, or from `since`).
            let (start, tail) = tokio::task::spawn_blocking(move || {
                paths.read_transcript(&transcript, since, tail_bytes)
            })
            .await
            .ok()
            .and_then(|read| {
                read.inspect_err(|err| tracing::warn!("transcript replay: {err:#}"))
                    .ok()
            })
            .unwrap_or((since.unwrap_or(0), Vec::new()));
            // An ended process's last size is not kept: the size it was started with is the
            // best guess.
            let (cols, rows) = (crate::pty::DEFAULT_COLS, crate::pty::DEFAULT_ROWS);
            send_event(&mut sink, &hello(cols, rows, start)).await?;
            let missing = since.map_or(0, |since| start.saturating_sub(since));
            if missing > 0 {
                let skipped = ServerEvent::Skipped {
                    bytes: missing,
                    offset: start,
                };
                send_event(&mut sink, &skipped).await?;
            }
            for chunk in tail.chunks(CHUNK) {
                sink.send(Message::Binary(chunk.to_vec().into())).await?;
            }
            send_event(&mut sink, &ServerEvent::Exit { code: exit_code }).await?;
            return close_gracefully(&mut sink, &mut incoming).await;
        }
    };
    let (cols, rows) = process.size();
    let output = process.output();
    let (retained_start, _) = output.read_from(0, 0);
    let (mut start, missing) =
        stream_start(since, retained_start, output.end().max(retained_start));
    // The retained output lost its beginning and this viewer has not seen it: the screen as it
    // is now, then the stream from there.
    let snapshot = (missing > 0 || (since.is_none() && retained_start > 0)).then(|| {
        let (offset, data) = output.snapshot();
        start = offset;
        ServerEvent::Snapshot { offset, data }
    });
    send_event(&mut sink, &hello(cols, rows, start)).await?;
    if let Some(snapshot) = snapshot {
        send_event(&mut sink, &snapshot).await?;
    }
    let arbitrated = terminal.session_id.is_some();
    stream_live(
        &mut sink,
        &mut incoming,
        &process,
        terminal.read_only,
        arbitrated,
        start,
    )
    .await
}

/// Identifies live viewers, for control of a session's terminal.
static NEXT_VIEWER: AtomicU64 = AtomicU64::new(1);

/// Gives control back when the viewer holding it goes away, however its stream ends.
struct ControlGuard<'a> {
    process: &'a PtyProcess,
    viewer: u64,
}

impl Drop for ControlGuard<'_> {
    fn drop(&mut self) {
        self.process.release_control(self.viewer);
    }
}

fn holder_for(viewer: u64, holder: u64) -> ControlHolder {
    match holder {
        0 => ControlHolder::None,
        h if h == viewer => ControlHolder::You,
        _ => ControlHolder::Other,
    }
}

/// Sends a Close frame, then reads (and drops) what the viewer still sends until its Close reply,
/// for at most [`CLOSE_GRACE`]. Dropping the socket with the viewer's acks still unread in the
/// kernel buffer makes the kernel answer with a TCP reset, and a reset destroys output the viewer
/// has received but not read yet, the `exit` event included.
async fn close_gracefully(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    incoming: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Result<(), axum::Error> {
    sink.close().await?;
    let drain = async {
        while let Some(Ok(message)) = incoming.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
    Ok(())
}

/// Streams a live terminal to one viewer. On a session's terminal (`arbitrated`) viewers take
/// turns: a viewer of a writable session terminal takes control when it connects, only the
/// holder's keystrokes and resizes reach the program, and every viewer is told who holds it.
/// A shell's viewers all type, as they always did.
async fn stream_live(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    incoming: &mut futures_util::stream::SplitStream<WebSocket>,
    process: &Arc<PtyProcess>,
    read_only: bool,
    arbitrated: bool,
    start: u64,
) -> Result<(), axum::Error> {
    let me = NEXT_VIEWER.fetch_add(1, Ordering::Relaxed);
    let _guard = ControlGuard {
        process,
        viewer: me,
    };
    if arbitrated && !read_only {
        process.take_control(me);
    }
    let mut controller = process.controller_watch();
    if arbitrated {
        let holder = holder_for(me, *controller.borrow_and_update());
        send_event(sink, &ServerEvent::Control { holder }).await?;
    }
    let may_type = |controller: &tokio::sync::watch::Receiver<u64>| {
        !read_only && (!arbitrated || *controller.borrow() == me)
    };
    let output: &Arc<Output> = process.output();
    let mut progress = output.subscribe();
    let mut exit = process.exit_watch();
    // The size was sent in `hello`; later changes (and titles) follow as events.
    let mut size = process.size_watch();
    size.mark_unchanged();
    let mut title = process.title_watch();
    title.mark_unchanged();
    // Late viewers see the recent past first (all that is retained, or from `since`).
    let mut offset = start;
    let mut in_flight: u64 = 0;
    loop {
        if in_flight < HIGH_WATERMARK {
            let (from, bytes) = output.read_from(offset, CHUNK);
            if from > offset {
                // Fell behind the retained output: the screen as it is now, then on from there.
                let (now, data) = output.snapshot();
                send_event(sink, &ServerEvent::Snapshot { offset: now, data }).await?;
                offset = now;
                continue;
            }
            offset = from;
            if !bytes.is_empty() {
                offset += bytes.len() as u64;
                in_flight += bytes.len() as u64;
                sink.send(Message::Binary(bytes.into())).await?;
                continue;
            }
        }
        let state = *progress.borrow_and_update();
        let code = *exit.borrow_and_update();
        if state.closed && offset >= state.end {
            if let Some(code) = code {
                send_event(sink, &ServerEvent::Exit { code: Some(code) }).await?;
                return close_gracefully(sink, incoming).await;
            }
        }
        tokio::select! {
            changed = progress.changed(), if in_flight < HIGH_WATERMARK && !(state.closed && offset >= state.end) => {
                if changed.is_err() {
                    // The reader is gone; the exit watch finishes the stream.
                    let _ = exit.changed().await;
                }
            }
            _ = exit.changed(), if state.closed && offset >= state.end => {}
            Ok(()) = size.changed() => {
                let (cols, rows) = *size.borrow_and_update();
                send_event(sink, &ServerEvent::Resize { cols, rows }).await?;
            }
            Ok(()) = controller.changed(), if arbitrated => {
                let holder = holder_for(me, *controller.borrow_and_update());
                send_event(sink, &ServerEvent::Control { holder }).await?;
            }
            Ok(()) = title.changed() => {
                let current = title.borrow_and_update().clone();
                if let Some(title) = current {
                    send_event(sink, &ServerEvent::Title { title }).await?;
                }
            }
            message = incoming.next() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(Message::Binary(input))) => {
                    if may_type(&controller) {
                        // Queued, never blocking: a program that does not read cannot stall us.
                        let _ = process.write(&input);
                    }
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientControl>(&text) {
                    Ok(ClientControl::Ack { bytes }) => in_flight = in_flight.saturating_sub(bytes),
                    Ok(ClientControl::Resize { cols, rows }) => {
                        if may_type(&controller) {
                            let _ = process.resize(cols.clamp(2, 1000), rows.clamp(1, 500));
                        }
                    }
                    Err(_) => tracing::debug!("ignoring malformed terminal control message"),
                },
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stream_start;

    #[test]
    fn a_stream_starts_after_since_when_it_is_retained() {
        // Without `since`: everything retained.
        assert_eq!(stream_start(None, 100, 500), (100, 0));
        // Retained: exactly after byte N, nothing missing.
        assert_eq!(stream_start(Some(300), 100, 500), (300, 0));
        assert_eq!(stream_start(Some(500), 100, 500), (500, 0));
        // No longer retained: from the oldest byte kept, the gap reported.
        assert_eq!(stream_start(Some(40), 100, 500), (100, 60));
        // Past the end (another incarnation's offset): from the end.
        assert_eq!(stream_start(Some(900), 100, 500), (500, 0));
    }
}
