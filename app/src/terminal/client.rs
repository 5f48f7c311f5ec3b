//! The browser side of a terminal: xterm.js wired to the terminal WebSocket (protocol in
//! `server/src/http/terminal.rs`): binary output with acks after xterm parsed it, binary input,
//! JSON resize.
//!
//! Geometry: a viewer that may type sizes the PTY to its pane. A read-only viewer cannot, so it
//! takes the PTY's size exactly (from `hello` and every `resize` event) and scales its font to
//! fit the pane: a full-screen program draws on the cells it means, not on wrapped ones.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, HtmlElement, MessageEvent, WebSocket};

use super::xterm::{new_fit_addon, FitAddon, XTerm};
use crate::api::ControlHolder;

/// A live terminal; dropping it closes the socket and disposes xterm.
pub struct LiveTerminal {
    term: XTerm,
    socket: WebSocket,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
    _observer: Option<web_sys::ResizeObserver>,
}

impl Drop for LiveTerminal {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        let _ = self.socket.close();
        if let Some(observer) = &self._observer {
            observer.disconnect();
        }
        self.term.dispose();
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
    },
    Hello {
        read_only: bool,
        cols: u16,
        rows: u16,
    },
    Resize {
        cols: u16,
        rows: u16,
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
        },
        "hello" => Frame::Hello {
            read_only: field("read_only")?.as_bool()?,
            cols: cells("cols")?,
            rows: cells("rows")?,
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

    let socket = WebSocket::new(&url)?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let mut closures: Vec<Closure<dyn FnMut(JsValue)>> = Vec::new();
    // True while this viewer follows the PTY's size rather than setting it: it is read-only, or
    // another viewer holds control of the session.
    let following = Rc::new(Cell::new(false));
    let pty_size = Rc::new(Cell::new(None::<(u16, u16)>));

    // Output: write, then acknowledge once xterm has parsed it.
    let on_message = {
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let fit: FitAddon = JsValue::from(&fit).unchecked_into();
        let socket = socket.clone();
        let host = host.clone();
        let following = following.clone();
        let pty_size = pty_size.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let event: MessageEvent = event.unchecked_into();
            let data = event.data();
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(buffer);
                let len = bytes.length();
                let socket = socket.clone();
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
                    let code = code.map_or("?".to_string(), |c| c.to_string());
                    let note = lang.tr(
                        format!("process exited with code {code}"),
                        format!("进程已退出,退出码 {code}"),
                    );
                    term.write_text(&format!("\r\n\x1b[2m[{note}]\x1b[0m\r\n"));
                }
                Frame::Skipped { bytes } => {
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
                } => {
                    pty_size.set(Some((cols, rows)));
                    following.set(read_only);
                    if read_only {
                        follow_pty_size(&term, &host, cols, rows);
                    }
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
                        send_size(&socket, &term);
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
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    closures.push(on_message);

    // Input: typed text as UTF-8 bytes (the server ignores it from viewers without control).
    let on_data = {
        let socket = socket.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
            if let Some(text) = data.as_string() {
                if socket.ready_state() == WebSocket::OPEN {
                    let _ = socket.send_with_u8_array(text.as_bytes());
                }
            }
        })
    };
    term.on_data(on_data.as_ref().unchecked_ref());
    closures.push(on_data);

    let on_resize = {
        let socket = socket.clone();
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let following = following.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_size: JsValue| {
            if !following.get() {
                send_size(&socket, &term);
            }
        })
    };
    term.on_resize(on_resize.as_ref().unchecked_ref());
    closures.push(on_resize);

    let on_open = {
        let socket = socket.clone();
        let term: XTerm = JsValue::from(&term).unchecked_into();
        Closure::<dyn FnMut(JsValue)>::new(move |_| send_size(&socket, &term))
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    closures.push(on_open);

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
        socket,
        _closures: closures,
        _observer: observer,
    })
}
