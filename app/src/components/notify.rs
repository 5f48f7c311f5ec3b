//! Browser notifications for sessions that start waiting for input: a button to allow them, and
//! `show` for the sessions panel. Uses the global `Notification` through js-sys, so no web-sys
//! features (and little wasm) are needed.

use leptos::prelude::*;

use crate::i18n::use_lang;

#[cfg(feature = "hydrate")]
fn notification_class() -> Option<js_sys::Function> {
    use wasm_bindgen::JsCast;
    js_sys::Reflect::get(&js_sys::global(), &"Notification".into())
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
}

/// `Notification.permission`: `default`, `granted` or `denied`; `None` without notifications.
#[cfg(feature = "hydrate")]
fn permission() -> Option<String> {
    let class = notification_class()?;
    js_sys::Reflect::get(&class, &"permission".into())
        .ok()?
        .as_string()
}

/// Shows a notification when the user allowed them; does nothing otherwise.
#[cfg(feature = "hydrate")]
pub fn show(title: &str, body: &str) {
    let Some(class) = notification_class() else {
        return;
    };
    if permission().as_deref() != Some("granted") {
        return;
    }
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"body".into(), &body.into());
    let _ = js_sys::Reflect::set(&options, &"tag".into(), &body.into());
    let args = js_sys::Array::of2(&title.into(), &options);
    if let Err(err) = js_sys::Reflect::construct(&class, &args) {
        leptos::logging::warn!("notification: {err:?}");
    }
}

/// "Notify me": asks for permission; hidden once the browser has an answer (or has no
/// notifications). Rendered hidden on the server, shown after hydration when it applies.
#[component]
pub fn NotifyToggle() -> impl IntoView {
    let lang = use_lang();
    let ask = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| ask.set(permission().as_deref() == Some("default")));
    let request = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(class) = notification_class() {
            if let Ok(method) = js_sys::Reflect::get(&class, &"requestPermission".into()) {
                use wasm_bindgen::JsCast;
                if let Ok(method) = method.dyn_into::<js_sys::Function>() {
                    let _ = method.call0(&class);
                }
            }
        }
        ask.set(false);
    };
    view! {
        <button type="button" class="ghost small" hidden=move || !ask.get() on:click=request
            title=lang.tr("Notify me when a session needs input", "会话等待输入时通知我")>
            {lang.tr("Notify me", "通知我")}
        </button>
    }
}
