//! The browser side of a terminal: xterm.js wired to the terminal WebSocket (protocol in
//! `server/src/http/terminal.rs`): binary output with acks after xterm parsed it, binary input,
//! JSON resize.
//!
//! Reconnection: the client counts the output bytes it has received (from `hello.offset`, moved
//! on by `skipped.offset` and `snapshot.offset`: a snapshot is the server's emulated screen,
//! written as it is, sent instead of a replay that would start in the middle of the stream); when the socket closes before the process's `exit` (a server restart,
//! a network drop) it reconnects with `?since=` that count, with a growing delay, so the pane
//! shows every byte once.
//!
//! Geometry: a viewer that may type sizes the PTY to its pane. A read-only viewer cannot, so it
//! takes the PTY's size exactly (from `hello` and every `resize` event) and scales its font to
//! fit the pane: a full-screen program draws on the cells it means, not on wrapped ones.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, HtmlElement, MessageEvent, WebSocket};

use super::xterm::{new_fit_addon, FitAddon, XTerm};
use crate::api::ControlHolder;

/// A live terminal; dropping it closes the socket and disposes xterm.
pub struct LiveTerminal {
    term: XTerm,
    link: Rc<Link>,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
    _observer: Option<web_sys::ResizeObserver>,
}

impl Drop for LiveTerminal {
    fn drop(&mut self) {
        self.link.finished.set(true);
        let socket = self.link.socket.borrow();
        socket.set_onmessage(None);
        socket.set_onclose(None);
        let _ = socket.close();
        if let Some(observer) = &self._observer {
            observer.disconnect();
        }
        self.term.dispose();
    }
}

/// Reconnect attempts before the pane gives up (the delays grow to 5 s: about 2 minutes).
const MAX_ATTEMPTS: u32 = 30;

/// A viewer's connection to its terminal: the current socket, and where in the output stream
/// the viewer is.
struct Link {
    /// `…/ws/terminal/{id}?token=…`
    url: String,
    socket: RefCell<WebSocket>,
    /// Stream offset of the next output byte (all before it were received).
    offset: Cell<u64>,
    /// Set once a `hello` arrived: later connections resume with `since`.
    started: Cell<bool>,
    /// The process exited, or the pane closed: no reconnecting.
    finished: Cell<bool>,
    /// Connections tried since the last `hello`.
    attempts: Cell<u32>,
    /// The socket handlers (message, open, close), set on every new socket.
    handlers: RefCell<Vec<js_sys::Function>>,
}

impl Link {
    /// Gives `socket` this viewer's handlers.
    fn install(&self, socket: &WebSocket) {
        socket.set_binary_type(BinaryType::Arraybuffer);
        if let [message, open, close] = self.handlers.borrow().as_slice() {
            socket.set_onmessage(Some(message));
            socket.set_onopen(Some(open));
            socket.set_onclose(Some(close));
        }
    }

    /// Opens a new socket that resumes after the bytes received (once a `hello` came; else from
    /// what is retained).
    fn reconnect(&self) -> Result<(), JsValue> {
        let url = if self.started.get() {
            format!("{}&since={}", self.url, self.offset.get())
        } else {
            self.url.clone()
        };
        let socket = WebSocket::new(&url)?;
        self.install(&socket);
        *self.socket.borrow_mut() = socket;
        Ok(())
    }
}

fn options() -> JsValue {
    let options = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&options, &k.into(), &v);
    };
    set("cursorBlink", true.into());
    set("fontSize", 13.into());
    set("scrollback", 5000.into());
    set(
        "fontFamily",
        "ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', monospace".into(),
    );
    options.into()
}

/// The font size panes use when they fit.
const FONT_SIZE: f64 = 13.0;
/// Smallest font a read-only pane shrinks to; below it the pane scrolls instead.
const MIN_FONT_SIZE: f64 = 6.0;

/// Takes the PTY's size and scales the font so `cols` × `rows` fit in `host`.
fn follow_pty_size(term: &XTerm, host: &HtmlElement, cols: u16, rows: u16) {
    let options = term.options();
    let _ = js_sys::Reflect::set(&options, &"fontSize".into(), &FONT_SIZE.into());
    term.resize(cols.max(2), rows.max(1));
    let Ok(Some(screen)) = host.query_selector(".xterm-screen") else {
        return;
    };
    let (width, height) = (screen.client_width() as f64, screen.client_height() as f64);
    if width <= 0.0 || height <= 0.0 {
        return;
    }
    let scale = (host.client_width() as f64 / width).min(host.client_height() as f64 / height);
    let size = (FONT_SIZE * scale).floor().clamp(MIN_FONT_SIZE, FONT_SIZE);
    if size < FONT_SIZE {
        let _ = js_sys::Reflect::set(&options, &"fontSize".into(), &size.into());
    }
}

/// What this client reads of the server's JSON frames (`crate::api::ServerEvent`; `title` and
/// the ids are not shown).
enum Frame {
    Exit {
        code: Option<i32>,
    },
    Skipped {
        bytes: u64,
        offset: u64,
    },
    Hello {
        read_only: bool,
        cols: u16,
        rows: u16,
        offset: u64,
    },
    Resize {
        cols: u16,
        rows: u16,
    },
    Snapshot {
        offset: u64,
        data: String,
    },
    Control {
        holder: ControlHolder,
    },
}

/// Reads a JSON frame with the browser's own parser: a serde deserializer for the tagged enum
/// cost the wasm several kilobytes. Unknown or malformed frames are `None` (ignored).
fn read_frame(text: &str) -> Option<Frame> {
    let value = js_sys::JSON::parse(text).ok()?;
    let field = |name: &str| js_sys::Reflect::get(&value, &name.into()).ok();
    let number = |name: &str| field(name)?.as_f64();
    let cells = |name: &str| number(name).map(|n| n as u16);
    Some(match field("type")?.as_string()?.as_str() {
        "exit" => Frame::Exit {
            code: number("code").map(|c| c as i32),
        },
        "skipped" => Frame::Skipped {
            bytes: number("bytes")? as u64,
            offset: number("offset")? as u64,
        },
        "hello" => Frame::Hello {
            read_only: field("read_only")?.as_bool()?,
            cols: cells("cols")?,
            rows: cells("rows")?,
            offset: number("offset").unwrap_or(0.0) as u64,
        },
        "snapshot" => Frame::Snapshot {
            offset: number("offset")? as u64,
            data: field("data")?.as_string()?,
        },
        "resize" => Frame::Resize {
            cols: cells("cols")?,
            rows: cells("rows")?,
        },
        "control" => Frame::Control {
            holder: match field("holder")?.as_string()?.as_str() {
                "you" => ControlHolder::You,
                "other" => ControlHolder::Other,
                _ => ControlHolder::None,
            },
        },
        _ => return None,
    })
}

fn send_json(socket: &WebSocket, value: &str) {
    if socket.ready_state() == WebSocket::OPEN {
        let _ = socket.send_with_str(value);
    }
}

/// Sends the terminal's own size (a viewer that sizes the PTY).
fn send_size(socket: &WebSocket, term: &XTerm) {
    send_json(
        socket,
        &format!(
            r#"{{"type":"resize","cols":{},"rows":{}}}"#,
            term.cols(),
            term.rows()
        ),
    );
}

/// Opens xterm in `host` and connects it to terminal `id`. `on_control` hears who holds control
/// of a session's terminal.
pub fn attach(
    host: &HtmlElement,
    id: &str,
    token: &str,
    lang: crate::i18n::Lang,
    on_control: Option<Box<dyn Fn(ControlHolder)>>,
) -> Result<LiveTerminal, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let location = window.location();
    let scheme = if location.protocol()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let url = format!(
        "{scheme}://{}/ws/terminal/{id}?token={token}",
        location.host()?
    );

    let term = XTerm::new(&options());
    let fit = new_fit_addon()?;
    term.load_addon(&fit);
    term.open(host);
    fit.fit();

    let link = Rc::new(Link {
        url: url.clone(),
        // The first connection: everything still retained (its handlers are set below, before
        // any event can be dispatched).
        socket: RefCell::new(WebSocket::new(&url)?),
        offset: Cell::new(0),
        started: Cell::new(false),
        finished: Cell::new(false),
        attempts: Cell::new(0),
        handlers: RefCell::new(Vec::new()),
    });
    let mut closures: Vec<Closure<dyn FnMut(JsValue)>> = Vec::new();
    // True while this viewer follows the PTY's size rather than setting it: it is read-only, or
    // another viewer holds control of the session.
    let following = Rc::new(Cell::new(false));
    let pty_size = Rc::new(Cell::new(None::<(u16, u16)>));

    // Output: write, then acknowledge once xterm has parsed it.
    let on_message = {
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let fit: FitAddon = JsValue::from(&fit).unchecked_into();
        let link = link.clone();
        let host = host.clone();
        let following = following.clone();
        let pty_size = pty_size.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let event: MessageEvent = event.unchecked_into();
            let data = event.data();
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(buffer);
                let len = bytes.length();
                link.offset.set(link.offset.get() + u64::from(len));
                // Acknowledged on the socket that delivered the bytes.
                let socket = link.socket.borrow().clone();
                let done = Closure::once_into_js(move || {
                    send_json(&socket, &format!(r#"{{"type":"ack","bytes":{len}}}"#));
                });
                term.write_bytes(&bytes, done.unchecked_ref());
                return;
            }
            let Some(text) = data.as_string() else {
                return;
            };
            let Some(event) = read_frame(&text) else {
                return;
            };
            match event {
                Frame::Exit { code } => {
                    link.finished.set(true);
                    let code = code.map_or("?".to_string(), |c| c.to_string());
                    let note = lang.tr(
                        format!("process exited with code {code}"),
                        format!("进程已退出,退出码 {code}"),
                    );
                    term.write_text(&format!("\r\n\x1b[2m[{note}]\x1b[0m\r\n"));
                }
                Frame::Skipped { bytes, offset } => {
                    link.offset.set(offset);
                    let note = lang.tr(
                        format!("{bytes} bytes skipped"),
                        format!("跳过了 {bytes} 字节"),
                    );
                    term.write_text(&format!("\r\n\x1b[2m[{note}]\x1b[0m\r\n"));
                }
                Frame::Hello {
                    read_only,
                    cols,
                    rows,
                    offset,
                } => {
                    link.offset.set(offset);
                    link.started.set(true);
                    link.attempts.set(0);
                    pty_size.set(Some((cols, rows)));
                    following.set(read_only);
                    if read_only {
                        follow_pty_size(&term, &host, cols, rows);
                    }
                }
                Frame::Snapshot { offset, data } => {
                    // The terminal as it is now (it starts with a reset); output goes on after.
                    link.offset.set(offset);
                    term.write_text(&data);
                }
                Frame::Resize { cols, rows } => {
                    pty_size.set(Some((cols, rows)));
                    if following.get() {
                        follow_pty_size(&term, &host, cols, rows);
                    }
                }
                Frame::Control { holder } => {
                    let was_following = following.get();
                    following.set(holder != ControlHolder::You);
                    if holder == ControlHolder::You {
                        // In control: the PTY takes this pane's size.
                        let _ = js_sys::Reflect::set(
                            &term.options(),
                            &"fontSize".into(),
                            &FONT_SIZE.into(),
                        );
                        fit.fit();
                        send_size(&link.socket.borrow(), &term);
                        term.focus();
                    } else if !was_following {
                        if let Some((cols, rows)) = pty_size.get() {
                            follow_pty_size(&term, &host, cols, rows);
                        }
                    }
                    if let Some(on_control) = &on_control {
                        on_control(holder);
                    }
                }
            }
        })
    };

    // Input: typed text as UTF-8 bytes (the server ignores it from viewers without control).
    let on_data = {
        let link = link.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
            if let Some(text) = data.as_string() {
                let socket = link.socket.borrow();
                if socket.ready_state() == WebSocket::OPEN {
                    let _ = socket.send_with_u8_array(text.as_bytes());
                }
            }
        })
    };
    term.on_data(on_data.as_ref().unchecked_ref());
    closures.push(on_data);

    let on_resize = {
        let link = link.clone();
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let following = following.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_size: JsValue| {
            if !following.get() {
                send_size(&link.socket.borrow(), &term);
            }
        })
    };
    term.on_resize(on_resize.as_ref().unchecked_ref());
    closures.push(on_resize);

    let on_open = {
        let link = link.clone();
        let term: XTerm = JsValue::from(&term).unchecked_into();
        Closure::<dyn FnMut(JsValue)>::new(move |_| send_size(&link.socket.borrow(), &term))
    };

    // A socket that closes before the process's exit (a server restart, a network drop): try
    // again after a growing delay, resuming after the bytes received.
    let retry = {
        let link = link.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if !link.finished.get() {
                let _ = link.reconnect();
            }
        })
    };
    let on_close = {
        let link = link.clone();
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let retry: js_sys::Function = retry.as_ref().unchecked_ref::<js_sys::Function>().clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if link.finished.get() {
                return;
            }
            let attempt = link.attempts.get();
            if attempt >= MAX_ATTEMPTS {
                link.finished.set(true);
                let note = lang.tr("disconnected", "已断开连接");
                term.write_text(&format!("\r\n\x1b[2m[{note}]\x1b[0m\r\n"));
                return;
            }
            link.attempts.set(attempt + 1);
            let delay = (250_i32 << attempt.min(5)).min(5_000);
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&retry, delay);
            }
        })
    };
    *link.handlers.borrow_mut() = [&on_message, &on_open, &on_close]
        .map(|c| c.as_ref().unchecked_ref::<js_sys::Function>().clone())
        .to_vec();
    link.install(&link.socket.borrow());
    closures.extend([on_message, on_open, on_close, retry]);

    // Refit whenever the host element changes size.
    let on_host_resize = {
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let host = host.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| match pty_size.get() {
            Some((cols, rows)) if following.get() => follow_pty_size(&term, &host, cols, rows),
            _ => fit.fit(),
        })
    };
    let observer = web_sys::ResizeObserver::new(on_host_resize.as_ref().unchecked_ref()).ok();
    if let Some(observer) = &observer {
        observer.observe(host);
    }
    closures.push(on_host_resize);

    Ok(LiveTerminal {
        term,
        link,
        _closures: closures,
        _observer: observer,
    })
}
