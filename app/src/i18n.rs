//! The UI language: English or 中文. The choice lives in a cookie, so the server renders the page
//! in that language and hydration agrees with it; switching reloads the page. Labels are plain
//! text chosen at render time: both texts ship in the wasm, but no reactive code per label.
//! Data (task texts, department duties, API errors) is shown as the server sends it.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

/// The cookie that holds the choice.
pub const COOKIE: &str = "cg_lang";

impl Lang {
    /// The language named by the [`COOKIE`] in a `Cookie` header; English without one.
    pub fn from_cookies(cookies: &str) -> Lang {
        let value = cookies
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find_map(|(name, value)| (name == COOKIE).then_some(value));
        match value {
            Some("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The English or the Chinese version of a text, whichever is this language.
    pub fn tr<T>(self, en: T, zh: T) -> T {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    /// The language tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        self.tr("en", "zh-CN")
    }

    fn cookie_value(self) -> &'static str {
        self.tr("en", "zh")
    }

    fn other(self) -> Lang {
        self.tr(Lang::Zh, Lang::En)
    }
}

/// Reads the page's language from the request (server) or the document (browser) and provides
/// it as context.
pub fn provide_lang() -> Lang {
    let lang = Lang::from_cookies(&page_cookies());
    provide_context(lang);
    lang
}

/// The page's language (English outside a page, e.g. in unit tests).
pub fn use_lang() -> Lang {
    use_context().unwrap_or(Lang::En)
}

/// Every `Cookie` header, read leniently: a non-ASCII cookie of another app on this host must not
/// hide ours (the browser would still see it, and hydration would disagree with the server).
#[cfg(feature = "ssr")]
fn page_cookies() -> String {
    use_context::<http::request::Parts>()
        .map(|parts| {
            let headers = parts.headers.get_all(http::header::COOKIE);
            let values: Vec<_> = headers
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            values.join("; ")
        })
        .unwrap_or_default()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn page_cookies() -> String {
    use wasm_bindgen::JsCast;
    document()
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()
        .and_then(|d| d.cookie().ok())
        .unwrap_or_default()
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn page_cookies() -> String {
    String::new()
}

/// The button that switches to the other language.
#[component]
pub fn LangToggle() -> impl IntoView {
    let other = use_lang().other();
    view! {
        <button type="button" class="ghost small" lang=other.tag() data-testid="lang-toggle"
            on:click=move |_| switch_to(other)>
            {other.tr("English", "中文")}
        </button>
    }
}

fn switch_to(lang: Lang) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
            let cookie = format!(
                "{COOKIE}={}; path=/; max-age=31536000; samesite=strict",
                lang.cookie_value()
            );
            let _ = doc.set_cookie(&cookie);
            let _ = window().location().reload();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = lang.cookie_value();
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn the_cookie_picks_the_language() {
        assert_eq!(Lang::from_cookies(""), Lang::En);
        assert_eq!(Lang::from_cookies("cg_lang=zh"), Lang::Zh);
        assert_eq!(Lang::from_cookies("a=1; cg_lang=zh; b=2"), Lang::Zh);
        assert_eq!(Lang::from_cookies("cg_lang=en"), Lang::En);
        assert_eq!(Lang::from_cookies("cg_lang=fr"), Lang::En);
        assert_eq!(Lang::from_cookies("xcg_lang=zh"), Lang::En);
        assert_eq!(Lang::from_cookies("other=caf\u{e9}; cg_lang=zh"), Lang::Zh);
    }

    #[test]
    fn texts_follow_the_language() {
        assert_eq!(Lang::Zh.tr("Task", "任务"), "任务");
        assert_eq!(Lang::En.tr("Task", "任务"), "Task");
        assert_eq!(Lang::Zh.tag(), "zh-CN");
    }
}
