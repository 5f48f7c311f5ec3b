//! The review of a department's worktree: its changed files against the base commit, the chosen
//! file's unified diff (added and removed lines coloured, old and new line numbers from the hunk
//! headers), and comments typed into the department's session.

use leptos::prelude::*;

use crate::api::{
    ApiError, ChangeCounts, DepartmentDiffResponse, FileChangeStatus, FileDiff, SessionStatus,
};
use crate::i18n::{use_lang, Lang};

use super::shared::{change_counts, push_escaped, use_shared, Badge};
use super::wire;

/// The review of the department session the user picked ("Review" on its card); nothing
/// otherwise. Outside the session list, so list refreshes never reset it.
#[component]
pub fn ReviewPanel() -> impl IntoView {
    let shared = use_shared();
    move || shared.review.get().map(review)
}

fn review(id: String) -> impl IntoView {
    let shared = use_shared();
    let lang = use_lang();
    // The department as the session list shows it, live.
    let department = {
        let id = id.clone();
        Memo::new(move |_| {
            shared.sessions.get().and_then(Result::ok).and_then(|s| {
                s.zhongshu_sessions
                    .into_iter()
                    .flat_map(|z| z.child_departments)
                    .find(|d| d.id == id)
            })
        })
    };
    // Comments need a running session (one closure for all its uses).
    let idle = move || {
        department.with(|d| {
            d.as_ref()
                .is_none_or(|d| d.status != SessionStatus::Running)
        })
    };

    let diff = RwSignal::new(None::<Result<DepartmentDiffResponse, ApiError>>);
    let loading = RwSignal::new(false);
    let load = {
        let id = id.clone();
        move || {
            loading.set(true);
            let id = id.clone();
            leptos::task::spawn_local(async move {
                diff.set(Some(wire::department_diff(id).await));
                loading.set(false);
            });
        }
    };
    load();
    // The file shown: the one picked, else the first.
    let selected = RwSignal::new(None::<String>);
    let current = Memo::new(move |_| {
        let want = selected.get();
        diff.with(|d| {
            let files = &d.as_ref()?.as_ref().ok()?.files;
            files
                .iter()
                .find(|f| Some(&f.path) == want.as_ref())
                .or(files.first())
                .map(|f| f.path.clone())
        })
    });

    let comment = RwSignal::new(String::new());
    let note = RwSignal::new(None::<(bool, String)>);
    let send = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let text = comment.get_untracked();
            if text.trim().is_empty() {
                return;
            }
            // The agent learns which file the comment is about.
            let line = match current.get_untracked() {
                Some(path) => ["[review ", &path, "] ", &text].concat(),
                None => text,
            };
            let id = id.clone();
            leptos::task::spawn_local(async move {
                let outcome = wire::session_input(id, line).await;
                note.set(Some(match outcome {
                    Ok(_) => {
                        comment.set(String::new());
                        let sent = lang.tr(
                            "Comment sent to the department's terminal",
                            "评论已发送到该部门的终端",
                        );
                        (true, sent.to_string())
                    }
                    Err(err) => (false, err.message),
                }));
            });
        }
    };

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(panel) = document().get_element_by_id("review-panel") {
            panel.scroll_into_view();
        }
    });

    view! {
        <section class="panel review" id="review-panel" data-testid="review-panel" data-session-id=id.clone()
            aria-labelledby="review-heading">
            <header class="panel-head">
                <h2 id="review-heading">{lang.tr("Review ", "审阅 ")} <code>{id.clone()}</code></h2>
                <div class="row">
                    <button type="button" class="ghost small" data-testid="review-refresh"
                        disabled=move || loading.get() on:click=move |_| load()>{lang.tr("Refresh", "刷新")}</button>
                    <button type="button" class="ghost small" data-testid="review-close"
                        on:click=move |_| shared.review.set(None)>{lang.tr("Close", "关闭")}</button>
                </div>
            </header>
            {move || department.with(|d| d.as_ref().map(|d| view! {
                <p class="muted small">
                    <strong>{d.title.clone()}</strong>
                    {d.worktree().and_then(|w| w.branch.clone()).map(|branch| view! { " · " <code>{branch}</code> })}
                    {d.changes.map(|c| view! { " · " {change_counts(c, true)} })}
                </p>
            }))}
            {move || diff.with(|answer| {
                let files = answer.as_ref().and_then(|a| a.as_ref().ok()).map(|d| &d.files);
                view! {
                    {answer.is_none().then(|| view! { <p class="muted">{lang.tr("Loading the diff…", "正在加载差异…")}</p> })}
                    {answer.as_ref().and_then(|a| a.as_ref().err()).map(|err| view! {
                        <p class="error" role="alert" data-testid="review-error">{err.message.clone()}</p>
                    })}
                    {files.filter(|f| f.is_empty()).map(|_| view! {
                        <p class="muted" data-testid="review-empty">{lang.tr("No changes against the base commit yet.", "与基线提交相比还没有改动。")}</p>
                    })}
                    {files.filter(|f| !f.is_empty()).map(|files| view! {
                        <div class="review-body">
                            <ul class="diff-files" data-testid="review-files" aria-label=lang.tr("Changed files", "改动的文件")>
                                {files.iter().map(|f| {
                                    let path = f.path.clone();
                                    let pick = path.clone();
                                    view! {
                                        <li>
                                            <button type="button" class="file" data-testid="review-file"
                                                aria-pressed=move || current.with(|c| c.as_ref() == Some(&path)).to_string()
                                                on:click=move |_| selected.set(Some(pick.clone()))>
                                                {status_badge(lang, f.status)}
                                                <code>{f.path.clone()}</code>
                                                {change_counts(ChangeCounts { files: 1, additions: f.additions, deletions: f.deletions }, false)}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <div class="diff-view">
                                {move || current.get().and_then(|path| diff.with(|d| {
                                    let files = &d.as_ref()?.as_ref().ok()?.files;
                                    files.iter().find(|f| f.path == path).map(|f| file_view(lang, f))
                                }))}
                            </div>
                        </div>
                    })}
                }
            })}
            <form class="review-comment" on:submit=send>
                <label for="review-comment">{lang.tr(
                    "Comment for the department (typed into its terminal as one line, naming the file shown)",
                    "给该部门的评论(作为一行输入其终端,并注明所示文件)",
                )}</label>
                <textarea id="review-comment" rows="3" data-testid="review-comment" disabled=idle
                    prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                <div class="row">
                    <button type="submit" data-testid="review-send" disabled=idle>{lang.tr("Send comment", "发送评论")}</button>
                    <span class="muted" hidden=move || !idle()>{lang.tr("The session is not running: comments cannot reach it.", "会话未在运行:评论无法送达。")}</span>
                </div>
                {move || note.get().map(|(ok, text)| view! {
                    <p class=if ok { "notice ok" } else { "notice error" } role="status" data-testid="review-note">{text}</p>
                })}
            </form>
        </section>
    }
}

fn status_badge(lang: Lang, status: FileChangeStatus) -> impl IntoView {
    let (kind, text) = match status {
        FileChangeStatus::Added => ("ok", lang.tr("added", "新增")),
        FileChangeStatus::Untracked => ("ok", lang.tr("untracked", "未跟踪")),
        FileChangeStatus::Modified => ("info", lang.tr("modified", "修改")),
        FileChangeStatus::Deleted => ("bad", lang.tr("deleted", "删除")),
        FileChangeStatus::Renamed => ("muted", lang.tr("renamed", "重命名")),
    };
    view! { <Badge kind=kind text=text/> }
}

/// One file's diff: notes for binary and truncated patches, then its lines.
fn file_view(lang: Lang, file: &FileDiff) -> impl IntoView {
    let lines = parse_patch(&file.patch);
    view! {
        <div class="diff-file" data-testid="review-diff" data-path=file.path.clone()>
            <p class="diff-head">
                {status_badge(lang, file.status)} " " <code>{file.path.clone()}</code>
                {file.old_path.clone().map(|old| view! { <span class="muted">" ← " <code>{old}</code></span> })}
            </p>
            {file.binary.then(|| view! { <p class="muted" data-testid="review-binary">{lang.tr("Binary file: no text diff.", "二进制文件:没有文本差异。")}</p> })}
            {file.truncated.then(|| view! { <p class="notice error" data-testid="review-truncated">{lang.tr("The diff is truncated at 256 KiB.", "差异在 256 KiB 处被截断。")}</p> })}
            {(!lines.is_empty()).then(|| view! {
                <div class="diff-scroll">
                    <table class="diff">
                        <tbody inner_html=rows_html(&lines)></tbody>
                    </table>
                </div>
            })}
        </div>
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// The file header (`diff --git`, `index`, `---`, `+++`, rename lines).
    Meta,
    /// `@@ -a,b +c,d @@`.
    Hunk,
    Context,
    Added,
    Removed,
    /// `\ No newline at end of file`.
    Note,
}

impl LineKind {
    fn class(self) -> &'static str {
        match self {
            LineKind::Meta => "meta",
            LineKind::Hunk => "hunk",
            LineKind::Context => "ctx",
            LineKind::Added => "add",
            LineKind::Removed => "del",
            LineKind::Note => "note",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct DiffLine<'a> {
    kind: LineKind,
    /// The line's number in the base version.
    old: Option<u32>,
    /// The line's number in the worktree version.
    new: Option<u32>,
    text: &'a str,
}

/// The rows of the diff table as HTML: one string set at once instead of a view per line, so a
/// patch of thousands of lines renders fast (and costs little wasm). The only text from the patch
/// is escaped element content.
fn rows_html(lines: &[DiffLine<'_>]) -> String {
    let mut html = String::with_capacity(lines.iter().map(|l| l.text.len() + 80).sum());
    let number = |html: &mut String, n: Option<u32>| {
        html.push_str("<td class=\"ln\">");
        if let Some(n) = n {
            html.push_str(&n.to_string());
        }
        html.push_str("</td>");
    };
    for line in lines {
        html.push_str("<tr class=\"");
        html.push_str(line.kind.class());
        html.push_str("\">");
        number(&mut html, line.old);
        number(&mut html, line.new);
        html.push_str("<td class=\"code\">");
        push_escaped(&mut html, line.text);
        html.push_str("</td></tr>");
    }
    html
}

/// The lines of a unified diff with their old and new line numbers, counted from each hunk
/// header's `-a,b +c,d` starts.
fn parse_patch(patch: &str) -> Vec<DiffLine<'_>> {
    let (mut old, mut new) = (0u32, 0u32);
    let mut in_hunk = false;
    patch
        .lines()
        .map(|text| {
            let (kind, o, n) = if text.starts_with("@@") {
                (old, new) = hunk_starts(text);
                in_hunk = true;
                (LineKind::Hunk, None, None)
            } else if !in_hunk {
                (LineKind::Meta, None, None)
            } else {
                match text.as_bytes().first() {
                    Some(b'+') => {
                        new += 1;
                        (LineKind::Added, None, Some(new - 1))
                    }
                    Some(b'-') => {
                        old += 1;
                        (LineKind::Removed, Some(old - 1), None)
                    }
                    Some(b'\\') => (LineKind::Note, None, None),
                    _ => {
                        old += 1;
                        new += 1;
                        (LineKind::Context, Some(old - 1), Some(new - 1))
                    }
                }
            };
            DiffLine {
                kind,
                old: o,
                new: n,
                text,
            }
        })
        .collect()
}

/// The first old and new line numbers of a hunk header `@@ -a[,b] +c[,d] @@ ...`.
fn hunk_starts(header: &str) -> (u32, u32) {
    let mut parts = header.split(' ').skip(1);
    let mut start = || -> u32 {
        parts
            .next()
            .and_then(|p| p.get(1..))
            .and_then(|p| p.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let old = start();
    (old, start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers_give_the_line_numbers() {
        assert_eq!(hunk_starts("@@ -1,3 +1,4 @@ fn main()"), (1, 1));
        assert_eq!(hunk_starts("@@ -0,0 +1 @@"), (0, 1));
        assert_eq!(hunk_starts("@@ -12 +15,2 @@"), (12, 15));
        assert_eq!(hunk_starts("@@ junk"), (0, 0));
    }

    #[test]
    fn patches_split_into_numbered_lines() {
        let patch = "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -10,2 +10,3 @@ x\n j\n+k\n l\n\\ No newline at end of file\n";
        let lines = parse_patch(patch);
        let kinds: Vec<_> = lines.iter().map(|l| l.kind).collect();
        use LineKind::*;
        assert_eq!(
            kinds,
            [
                Meta, Meta, Meta, Meta, Hunk, Context, Removed, Added, Context, Hunk, Context,
                Added, Context, Note
            ]
        );
        let numbers: Vec<_> = lines.iter().map(|l| (l.old, l.new)).collect();
        assert_eq!(numbers[5], (Some(1), Some(1)));
        assert_eq!(numbers[6], (Some(2), None));
        assert_eq!(numbers[7], (None, Some(2)));
        assert_eq!(numbers[8], (Some(3), Some(3)));
        assert_eq!(numbers[10], (Some(10), Some(10)));
        assert_eq!(numbers[11], (None, Some(11)));
        assert_eq!(numbers[12], (Some(11), Some(12)));
        assert_eq!(numbers[13], (None, None));
        assert_eq!(lines[7].text, "+B");
        // An added file: all new lines from 1.
        let added = parse_patch("--- /dev/null\n+++ b/n\n@@ -0,0 +1,2 @@\n+x\n+y\n");
        assert_eq!(added[0].kind, Meta);
        assert_eq!(added[1].kind, Meta);
        assert_eq!(
            (added[3].new, added[4].new, added[4].old),
            (Some(1), Some(2), None)
        );
        assert!(parse_patch("").is_empty());
    }

    #[test]
    fn rows_are_escaped_html() {
        let html = rows_html(&parse_patch(
            "@@ -1 +1 @@\n-<b>&</b>\n+<script>x</script>\n",
        ));
        assert_eq!(
            html,
            "<tr class=\"hunk\"><td class=\"ln\"></td><td class=\"ln\"></td><td class=\"code\">@@ -1 +1 @@</td></tr>\
             <tr class=\"del\"><td class=\"ln\">1</td><td class=\"ln\"></td><td class=\"code\">-&lt;b&gt;&amp;&lt;/b&gt;</td></tr>\
             <tr class=\"add\"><td class=\"ln\"></td><td class=\"ln\">1</td><td class=\"code\">+&lt;script&gt;x&lt;/script&gt;</td></tr>"
        );
    }
}
