//! The governance report view: worktree / staged / base tabs, the three provinces, departments
//! with their files, risks, verification commands (copyable) and the portability preflight.

use leptos::prelude::*;

use crate::api::{GovernanceReport, RiskLevel};

use crate::i18n::use_lang;

use super::push::use_push;
use super::shared::{load, Badge};
use super::wire;

#[component]
pub fn ReportPanel() -> impl IntoView {
    let push = use_push();
    let lang = use_lang();
    let mode = RwSignal::new("worktree".to_string());
    let base_input = RwSignal::new("HEAD~1".to_string());
    let base = RwSignal::new("HEAD~1".to_string());
    // Live by push (the server's change index); Refresh asks again on demand.
    let refresh = RwSignal::new(0u64);
    let report = load(
        move || (mode.get(), base.get(), push.report.get(), refresh.get()),
        |(mode, base, _, _)| async move {
            let base = (mode == "base").then_some(base);
            wire::report(mode, base).await
        },
    );
    let tab = move |name: &'static str, label: &'static str| {
        view! {
            <button type="button" role="tab" class=move || if mode.get() == name { "tab active" } else { "tab" }
                aria-selected=move || (mode.get() == name).to_string()
                on:click=move |_| mode.set(name.to_string())>{label}</button>
        }
    };
    view! {
        <section class="panel report" aria-labelledby="report-heading">
            <header class="panel-head">
                <h2 id="report-heading">{lang.tr("Governance report", "治理报告")}</h2>
                <div role="tablist" class="tabs">
                    {tab("worktree", lang.tr("Worktree", "工作区"))}
                    {tab("staged", lang.tr("Staged", "暂存区"))}
                    {tab("base", lang.tr("Base", "基线"))}
                </div>
                <button type="button" class="ghost small" data-testid="report-refresh"
                    on:click=move |_| refresh.update(|n| *n += 1)>{lang.tr("Refresh report", "刷新报告")}</button>
            </header>
            {move || (mode.get() == "base").then(|| view! {
                <form class="row" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); base.set(base_input.get_untracked()); }>
                    <label for="base-ref">{lang.tr("Base ref", "基线引用")}</label>
                    <input id="base-ref" type="text" prop:value=move || base_input.get()
                        on:input=move |ev| base_input.set(event_target_value(&ev))/>
                    <button type="submit" class="ghost">{lang.tr("Compare", "比较")}</button>
                </form>
            })}
            <Transition fallback=move || view! { <p class="muted">{lang.tr("Reading Git state…", "正在读取 Git 状态…")}</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(r) => view! { <ReportBody report=r.report/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[component]
fn ReportBody(report: GovernanceReport) -> impl IntoView {
    let lang = use_lang();
    let scan = report.preflight.checks.portability_reference_scan.clone();
    let pass = scan.decision == crate::api::Decision::Pass;
    view! {
        <ol class="provinces">
            {report.provinces.iter().map(|p| view! { <li><strong>{p.title.clone()}</strong><span class="muted">{p.duty.clone()}</span></li> }).collect_view()}
        </ol>
        <p class="muted" data-testid="report-summary">{
            let (count, mode) = (report.changed_count, &report.mode);
            lang.tr(
                format!("{count} changed file(s) · mode {mode}"),
                format!("{count} 个改动文件 · 模式 {mode}"),
            )
        }</p>
        <div class="grid">
            {report.departments.iter().map(|d| {
                let more = d.files.len().saturating_sub(8);
                view! {
                    <div class="department-card">
                        <h3>{d.title.clone()} " " <code>{d.key.clone()}</code></h3>
                        <p class="muted">{d.duty.clone()}</p>
                        <ul>
                            {d.files.iter().take(8).map(|f| view! { <li><code>{f.clone()}</code></li> }).collect_view()}
                            {(more > 0).then(|| view! { <li class="muted">{lang.tr(format!("… {more} more"), format!("… 另有 {more} 个"))}</li> })}
                        </ul>
                    </div>
                }
            }).collect_view()}
        </div>
        {(!report.uncategorized.is_empty()).then(|| view! {
            <h3>{lang.tr("Uncategorized", "未归类")}</h3>
            <ul>{report.uncategorized.iter().map(|f| view! { <li><code>{f.clone()}</code></li> }).collect_view()}</ul>
        })}
        <h3>{lang.tr("门下省 Menxia — risks", "门下省 — 风险")}</h3>
        {if report.risks.is_empty() {
            view! { <p class="muted">{lang.tr("No risk rule hit.", "未命中风险规则。")}</p> }.into_any()
        } else {
            view! { <ul>{report.risks.iter().map(|r| view! {
                <li><Badge kind={match r.level { RiskLevel::High => "bad", RiskLevel::Medium => "warn", RiskLevel::Low => "muted" }} text=r.level.as_str()/>
                " " <code>{r.path.clone()}</code> ": " {r.message.clone()}</li>
            }).collect_view()}</ul> }.into_any()
        }}
        <h3>{lang.tr("Verification", "验证命令")}</h3>
        <ul class="commands">
            {report.verify_commands.iter().map(|c| {
                let command = c.clone();
                view! { <li><code>{c.clone()}</code> " " <button type="button" class="ghost small" on:click=move |_| copy_to_clipboard(&command)>{lang.tr("Copy", "复制")}</button></li> }
            }).collect_view()}
        </ul>
        <h3>{lang.tr("Preflight", "预检")}</h3>
        <p data-testid="preflight">
            <Badge kind={if pass { "ok" } else { "warn" }} text=scan.decision.as_str()/>
            {
                let (files, violations, examples) = (scan.scanned_files.len(), scan.violations.len(), scan.exceptions.len());
                lang.tr(
                    format!(" portability scan of {files} file(s): {violations} violation(s), {examples} example(s)"),
                    format!(" 可移植性扫描 {files} 个文件:{violations} 处违规,{examples} 处示例"),
                )
            }
        </p>
        <ul>
            {scan.violations.iter().map(|v| view! {
                <li><code>{format!("{}:{}:{}", v.path, v.line, v.column)}</code> " [" {v.pattern.clone()} "] " {v.excerpt.clone()}</li>
            }).collect_view()}
        </ul>
    }
}
