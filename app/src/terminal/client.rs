//! The browser side of a terminal: xterm.js wired to the terminal WebSocket (protocol in
//! `server/src/http/terminal.rs`): binary output with acks after xterm parsed it, binary input,
//! JSON resize.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, HtmlElement, MessageEvent, WebSocket};

use super::xterm::{new_fit_addon, XTerm};

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

fn send_json(socket: &WebSocket, value: &str) {
    if socket.ready_state() == WebSocket::OPEN {
        let _ = socket.send_with_str(value);
    }
}

/// Opens xterm in `host` and connects it to terminal `id`.
pub fn attach(
    host: &HtmlElement,
    id: &str,
    token: &str,
    lang: crate::i18n::Lang,
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

    // Output: write, then acknowledge once xterm has parsed it.
    let on_message = {
        let term: XTerm = JsValue::from(&term).unchecked_into();
        let socket = socket.clone();
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
            } else if let Some(text) = data.as_string() {
                if let Ok(event) =
                    serde_json::from_slice::<crate::api::ServerEvent>(text.as_bytes())
                {
                    match event {
                        crate::api::ServerEvent::Exit { code } => {
                            let code = code.map_or("?".to_string(), |c| c.to_string());
                            let note = lang.tr(
                                format!("process exited with code {code}"),
                                format!("进程已退出,退出码 {code}"),
                            );
                            term.write_text(&format!("\r\n\x1b[2m[{note}]\x1b[0m\r\n"));
                        }
                        crate::api::ServerEvent::Skipped { bytes } => {
                            let note = lang.tr(
                                format!("{bytes} bytes skipped"),
                                format!("跳过了 {bytes} 字节"),
                            );
                            term.write_text(&format!("\r\n\x1b[2m[{note}]\x1b[0m\r\n"));
                        }
                        crate::api::ServerEvent::Hello { .. } => {}
                    }
                }
            }
        })
    };
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    closures.push(on_message);

    // Input: typed text as UTF-8 bytes (the server ignores it for read-only terminals).
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
        Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
            let get = |k: &str| {
                js_sys::Reflect::get(&size, &k.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            };
            send_json(
                &socket,
                &format!(
                    r#"{{"type":"resize","cols":{},"rows":{}}}"#,
                    get("cols"),
                    get("rows")
                ),
            );
        })
    };
    term.on_resize(on_resize.as_ref().unchecked_ref());
    closures.push(on_resize);

    let on_open = {
        let socket = socket.clone();
        let term: XTerm = JsValue::from(&term).unchecked_into();
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            send_json(
                &socket,
                &format!(
                    r#"{{"type":"resize","cols":{},"rows":{}}}"#,
                    term.cols(),
                    term.rows()
                ),
            );
        })
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    closures.push(on_open);

    // Refit whenever the host element changes size.
    let on_host_resize = Closure::<dyn FnMut(JsValue)>::new(move |_| fit.fit());
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
