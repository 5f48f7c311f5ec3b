//! Thin hand-written bindings to the global `Terminal` of `@xterm/xterm` and `FitAddon` of
//! `@xterm/addon-fit` (UMD builds loaded by `<script>` tags from /vendor/xterm).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Terminal)]
    pub type XTerm;

    #[wasm_bindgen(constructor, js_class = "Terminal")]
    pub fn new(options: &JsValue) -> XTerm;

    #[wasm_bindgen(method)]
    pub fn open(this: &XTerm, parent: &web_sys::HtmlElement);

    /// Writes bytes; `done` runs once xterm has parsed them (flow control).
    #[wasm_bindgen(method, js_name = write)]
    pub fn write_bytes(this: &XTerm, data: &js_sys::Uint8Array, done: &js_sys::Function);

    #[wasm_bindgen(method, js_name = write)]
    pub fn write_text(this: &XTerm, data: &str);

    /// Typed input, as a string.
    #[wasm_bindgen(method, js_name = onData)]
    pub fn on_data(this: &XTerm, callback: &js_sys::Function);

    /// New size, as `{cols, rows}`.
    #[wasm_bindgen(method, js_name = onResize)]
    pub fn on_resize(this: &XTerm, callback: &js_sys::Function);

    #[wasm_bindgen(method, js_name = loadAddon)]
    pub fn load_addon(this: &XTerm, addon: &FitAddon);

    #[wasm_bindgen(method)]
    pub fn focus(this: &XTerm);

    #[wasm_bindgen(method)]
    pub fn dispose(this: &XTerm);

    /// Sets the size in cells.
    #[wasm_bindgen(method)]
    pub fn resize(this: &XTerm, cols: u16, rows: u16);

    /// The live options object (setting a property applies it).
    #[wasm_bindgen(method, getter)]
    pub fn options(this: &XTerm) -> js_sys::Object;

    #[wasm_bindgen(method, getter)]
    pub fn cols(this: &XTerm) -> u16;

    #[wasm_bindgen(method, getter)]
    pub fn rows(this: &XTerm) -> u16;

    /// An instance of `FitAddon.FitAddon` (constructed with [`new_fit_addon`]).
    pub type FitAddon;

    #[wasm_bindgen(method)]
    pub fn fit(this: &FitAddon);
}

/// `new FitAddon.FitAddon()`: the UMD build nests the class in a namespace object.
pub fn new_fit_addon() -> Result<FitAddon, JsValue> {
    let namespace = js_sys::Reflect::get(&js_sys::global(), &"FitAddon".into())?;
    let class: js_sys::Function =
        js_sys::Reflect::get(&namespace, &"FitAddon".into())?.dyn_into()?;
    Ok(js_sys::Reflect::construct(&class, &js_sys::Array::new())?.unchecked_into())
}
