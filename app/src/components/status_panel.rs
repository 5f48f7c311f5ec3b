//! The launcher status panel: project, agent, models and concurrency at a glance.

use leptos::prelude::*;

use crate::api::WorkspaceMode;
use crate::i18n::use_lang;

use super::push::use_push;
use super::shared::use_shared;
use super::wire::StatusView;

#[component]
pub fn StatusPanel() -> impl IntoView {
    let status = use_shared().status;
    let push = use_push();
    let lang = use_lang();

    view! {
        <section class="panel status-panel" aria-labelledby="status-heading">
            <header class="panel-head">
                <h2 id="status-heading">{lang.tr("Launcher status", "启动器状态")}</h2>
                <span class="muted" data-testid="push-state">
                    {move || if push.connected.get() { lang.tr("live", "实时") } else { lang.tr("connecting…", "连接中…") }}
                </span>
                <button type="button" class="ghost" data-testid="refresh-status"
                    on:click=move |_| status.refetch()>
                    {lang.tr("Refresh", "刷新")}
                </button>
            </header>
            <Transition fallback=move || view! { <p class="muted">{lang.tr("Loading status…", "正在加载状态…")}</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(payload) => view! { <StatusFacts payload/> }.into_any(),
                        Err(err) => view! {
                            <p class="error" role="alert" data-testid="status-error">
                                {lang.tr("Launcher unavailable: ", "启动器不可用:")} {err.message}
                            </p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StatusFacts(payload: StatusView) -> impl IntoView {
    let lang = use_lang();
    let agent_state = if payload.agent.available {
        lang.tr("available", "可用")
    } else {
        lang.tr("not found on PATH", "PATH 中未找到")
    };
    view! {
        <dl class="facts" data-testid="status-facts">
            <dt>{lang.tr("Project", "项目")}</dt>
            <dd data-testid="project-name">{payload.project_name}</dd>
            <dt>{lang.tr("Repository", "仓库")}</dt>
            <dd><code>{payload.repo}</code></dd>
            <dt>{lang.tr("Agent", "智能体")}</dt>
            <dd data-testid="agent-name">{payload.agent.name} " (" {agent_state} ")"</dd>
            <dt>{lang.tr("Dispatch", "派发方式")}</dt>
            <dd>{payload.dispatch}</dd>
            <dt>{lang.tr("Agents across restarts", "重启时的智能体")}</dt>
            <dd data-testid="pty-host">
                {match payload.pty_host {
                    Some(host) => lang.tr(
                        format!("kept by the PTY host (pid {})", host.pid),
                        format!("由 PTY 宿主进程保留(pid {})", host.pid),
                    ),
                    None => lang.tr(
                        "end with this server".to_string(),
                        "随本服务器结束".to_string(),
                    ),
                }}
            </dd>
            <dt>{lang.tr("Workspaces", "工作区")}</dt>
            <dd data-testid="workspace-mode">
                {match payload.workspace.mode {
                    WorkspaceMode::Worktree => lang.tr("a Git worktree per department", "每个部门一个 Git 工作树"),
                    WorkspaceMode::Shared => lang.tr("shared repository", "共享仓库"),
                }}
            </dd>
            <dt>{lang.tr("Models", "模型")}</dt>
            <dd>{payload.model_choices.join(", ")}</dd>
            <dt>{lang.tr("Departments running", "运行中的部门")}</dt>
            <dd data-testid="department-slots">
                {payload.active_department_sessions} " / " {payload.max_department_sessions}
            </dd>
            <dt>{lang.tr("Zhongshu 中书省 sessions", "中书省会话")}</dt>
            <dd data-testid="zhongshu-count">{payload.active_zhongshu_sessions}</dd>
            <dt>{lang.tr("Queued", "排队中")}</dt>
            <dd>{payload.queue.len()}</dd>
            <dt>{lang.tr("API version", "API 版本")}</dt>
            <dd>{payload.api_version}</dd>
        </dl>
        {payload.workspace.warning.map(|warning| view! {
            <p class="warn-box" role="status" data-testid="workspace-warning">{warning}</p>
        })}
        <ul class="departments" data-testid="department-list">
            {payload.departments.into_iter().map(|d| view! {
                <li><strong>{d.title}</strong> " " <code>{d.key}</code> " — " {d.duty}</li>
            }).collect_view()}
        </ul>
    }
}
