//! Prompt templates (English). Each names exactly what the agent must do through the API or the
//! mailbox, so an agent CLI needs nothing but the prompt to take part.

use crate::governance::Department;

pub struct PromptContext<'a> {
    pub project: &'a str,
    pub workflow_doc: &'a str,
    pub launcher_url: &'a str,
    pub max_departments: u32,
    pub model_choices: &'a [String],
    pub department_model: &'a str,
    pub dispatch: &'a str,
}

const EXECUTION_POLICY: &str = "Execution policy: move decisively; read only the files you need; \
run the checks relevant to a small change and widen verification only for medium/high risk or \
public interfaces; stop and report only on clear failures, destructive operations, files outside \
your scope, or high-risk contract questions.";

const CONTINUATION_POLICY: &str = "Continuation policy: dispatch follow-up work only when a \
result has a next_action, a risk or a gap; otherwise summarise. Dispatch 1-2 departments at a \
time when slots are free and the work can run in parallel; Zhongshu itself only scopes and writes \
the final summary. A department is finished once its mailbox report arrives; you do not need to \
watch its terminal.";

/// The environment every agent session gets, one line each (also in the README).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "CODEX_GOVERNANCE_URL",
        "the launcher's base URL, for API calls",
    ),
    ("CODEX_GOVERNANCE_SESSION_ID", "this session's id"),
    ("CODEX_GOVERNANCE_ROLE", "`zhongshu` or `department`"),
    (
        "CODEX_GOVERNANCE_DEPARTMENT",
        "the department key (`zhongshu` for Zhongshu)",
    ),
    (
        "CODEX_GOVERNANCE_PARENT_SESSION_ID",
        "the Zhongshu session that dispatched this department (departments only)",
    ),
    (
        "CODEX_GOVERNANCE_MAILBOX",
        "the mailbox directory to write reports (and plan files) into",
    ),
    (
        "CODEX_GOVERNANCE_PROMPT_FILE",
        "the file holding this prompt",
    ),
    ("CODEX_GOVERNANCE_MODEL", "the model this session runs"),
    (
        "CODEX_GOVERNANCE_WORKSPACE_DIR",
        "the directory this session works in: its own worktree, or the repository (departments only)",
    ),
];

fn environment_lines(role: &str) -> String {
    ENVIRONMENT
        .iter()
        .filter(|(name, _)| {
            role != "zhongshu"
                || !matches!(
                    *name,
                    "CODEX_GOVERNANCE_PARENT_SESSION_ID" | "CODEX_GOVERNANCE_WORKSPACE_DIR"
                )
        })
        .map(|(name, meaning)| format!("- {name}: {meaning}\n"))
        .collect()
}

pub fn inbox_url(ctx: &PromptContext, session_id: &str, peek: bool) -> String {
    let peek = if peek { "&peek=1" } else { "" };
    format!(
        "{}/api/zhongshu_inbox?id={session_id}{peek}",
        ctx.launcher_url
    )
}

fn plan_post(ctx: &PromptContext, session_id: &str) -> String {
    format!(
        "POST {url}/api/report_zhongshu_plan with header Content-Type: application/json and body\n\
         {{\"session_id\": \"{session_id}\", \"summary\": \"<one paragraph>\", \"assignments\": [\
         {{\"department\": \"<key>\", \"task\": \"<what to do>\", \"model\": \"{model}\", \
         \"files\": [\"<paths>\"], \"verify\": [\"<commands>\"], \"reason\": \"<why this department>\", \
         \"model_reason\": \"<why this model>\", \"selected\": true}}]}}\n\
         For example: curl -s -X POST -H 'Content-Type: application/json' --data @plan.json {url}/api/report_zhongshu_plan",
        url = ctx.launcher_url,
        model = ctx.department_model,
    )
}

fn plan_file(url: &str, mailbox: &str) -> String {
    format!(
        "If your sandbox cannot reach {url} (for example Codex's workspace-write mode), write the \
         same JSON body with one more field, \"kind\": \"{kind}\", as a file into your mailbox \
         {mailbox} instead: first under a name starting with a dot, then rename it to plan.json. \
         It is validated like the POST; a rejected file lands in the mailbox's rejected/ folder \
         with a .error.txt saying why.",
        kind = super::plan_files::PLAN_KIND,
    )
}

fn inbox_rule(ctx: &PromptContext, session_id: &str) -> String {
    format!(
        "Inbox reduction rule: when unread results are multiple, risky, need confirmation, \
         conflict on next_action, or include launcher_fallback, use a temporary subagent to read \
         {} and summarise only; that subagent must not edit files, start departments, or make \
         the final Zhongshu decision.",
        inbox_url(ctx, session_id, true)
    )
}

pub fn zhongshu(
    ctx: &PromptContext,
    session_id: &str,
    task: &str,
    mailbox: &str,
    departments: &[(String, String, String)],
) -> String {
    let department_lines: String = departments
        .iter()
        .map(|(key, title, duty)| format!("- {key}: {title} — {duty}\n"))
        .collect();
    format!(
        "You are Zhongshu 中书省, the planning secretariat of the project {project}. \
         Session id: {session_id}.\n\n\
         Task: {task}\n\n\
         Read {doc} first.\n{EXECUTION_POLICY}\n\n\
         Split the task into department assignments. Departments:\n{department_lines}\n\
         Report the plan exactly once (and again only when it changes):\n{post}\n{file}\n\
         Model choices: {models}. Departments default to {model}.\n\
         Dispatch mode: {dispatch} (confirm: the user reviews and confirms the plan before \
         departments start). At most {max} departments run at once; the rest wait in a queue.\n\n\
         Results arrive in your inbox: GET {inbox} (add &peek=1 to read without marking read). \
         The launcher also writes a one-line notice into this terminal when results arrive.\n\
         {rule}\n{CONTINUATION_POLICY}\n\n\
         Your environment:\n{environment}",
        project = ctx.project,
        doc = ctx.workflow_doc,
        post = plan_post(ctx, session_id),
        file = plan_file(ctx.launcher_url, mailbox),
        environment = environment_lines("zhongshu"),
        models = ctx.model_choices.join(", "),
        model = ctx.department_model,
        dispatch = ctx.dispatch,
        max = ctx.max_departments,
        inbox = inbox_url(ctx, session_id, false),
        rule = inbox_rule(ctx, session_id),
    )
}

pub struct DepartmentPrompt<'a> {
    pub session_id: &'a str,
    pub parent_session_id: &'a str,
    pub department: &'a Department,
    pub task: &'a str,
    pub mailbox_incoming: &'a str,
    /// A worktree of its own: (directory, branch, base commit).
    pub worktree: Option<(&'a str, &'a str, &'a str)>,
}

pub fn department(ctx: &PromptContext, p: &DepartmentPrompt) -> String {
    let template = serde_json::json!({
        "parent_session_id": p.parent_session_id,
        "department_session_id": p.session_id,
        "department": p.department.key,
        "summary": "<what you did, one paragraph>",
        "changed_files": ["<paths>"],
        "verifications_run": ["<commands you ran and their outcome>"],
        "verifications_skipped": ["<commands you skipped and why>"],
        "risks": ["<risks the reviewer should know>"],
        "next_action": "<what should happen next, or empty>",
        "needs_user_confirmation": false
    });
    format!(
        "You are the {title} department ({key}) of the project {project}, dispatched by \
         Zhongshu session {parent}. Session id: {id}.\n\
         Duty: {duty}\n\n\
         Task: {task}\n\n\
         {workspace}\
         Read {doc} first.\n{EXECUTION_POLICY}\n\n\
         When you are done, report by writing one UTF-8 JSON file into the mailbox directory\n\
         {mailbox}\n\
         Write it under a temporary name first (for example .{id}.tmp) and then rename it to \
         {id}.json, so the launcher never reads a half-written file. Use this template:\n\
         {template}\n\n\
         Write the mailbox file, then stop.\n\n\
         Your environment:\n{environment}",
        title = p.department.title,
        key = p.department.key,
        project = ctx.project,
        parent = p.parent_session_id,
        id = p.session_id,
        duty = p.department.duty,
        task = p.task,
        doc = ctx.workflow_doc,
        mailbox = p.mailbox_incoming,
        template = serde_json::to_string_pretty(&template).unwrap_or_default(),
        environment = environment_lines("department"),
        workspace = match p.worktree {
            Some((dir, branch, base)) => format!(
                "You work in a Git worktree of your own: {dir} (branch {branch}, created from \
                 commit {base}). Make every change there, not in the main repository; other \
                 departments work in worktrees of their own. Commit on your branch or leave \
                 changes uncommitted: the launcher reviews both.\n\n"
            ),
            None => String::new(),
        },
    )
}

/// What an inline restart types into a running Zhongshu: where things stand and how to re-plan.
pub fn resume(
    ctx: &PromptContext,
    session_id: &str,
    task: &str,
    plan_summary: &str,
    children: &[String],
    results: &[String],
) -> String {
    let children = if children.is_empty() {
        "none".to_string()
    } else {
        children.join("; ")
    };
    let results = if results.is_empty() {
        "none".to_string()
    } else {
        results.join("; ")
    };
    format!(
        "[launcher] Resume Zhongshu {session_id}. Task: {task}. Plan: {plan_summary}. \
         Departments: {children}. Recent results: {results}. To re-plan, {post} {rule}",
        post = plan_post(ctx, session_id).replace('\n', " "),
        rule = inbox_rule(ctx, session_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_names_every_variable_an_agent_gets() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        for (name, meaning) in ENVIRONMENT {
            let row = format!("| `{name}` | {meaning} |");
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }
}
