import { test, expect, type APIRequestContext } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";

import { Launcher, git, tempDir } from "./launcher";
import { collectErrors, expectNoSidewaysScrolling } from "./support";

// Department workspaces in the dashboard: a server with `--workspace worktree` and a scripted
// agent whose department edits a tracked file in its worktree, reports, and keeps running.

const GOVERNANCE = `departments:
  docs:
    globs: ["docs/**"]
  code:
    globs: ["*.txt", "src/**"]
`;

/**
 * Zhongshu sessions wait; a department edits shared.txt in its worktree, reports when the test
 * creates `trigger`, and keeps running so that it can be typed into. The edit waits a moment
 * and the report waits for the test: the server's live change set misses an edit made while
 * the worktree's watch starts, and changes a commit in the worktree absorbs (the launcher
 * commits a reported worktree to verify it), so the live card is checked before the report.
 */
const agent = (trigger: string) => `#!/bin/sh
if [ "$CODEX_GOVERNANCE_ROLE" != department ]; then exec sleep 300; fi
sleep 1
printf 'alpha\\nBETA from %s\\ngamma\\n' "$CODEX_GOVERNANCE_DEPARTMENT" > shared.txt
while [ ! -e '${trigger}' ]; do sleep 0.1; done
id=$CODEX_GOVERNANCE_SESSION_ID
printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"edited shared.txt","changed_files":["shared.txt"]}' \\
  "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$id" "$CODEX_GOVERNANCE_DEPARTMENT" > "$CODEX_GOVERNANCE_MAILBOX/.tmp-$id"
mv "$CODEX_GOVERNANCE_MAILBOX/.tmp-$id" "$CODEX_GOVERNANCE_MAILBOX/$id.json"
exec sleep 300
`;

/** A repository with one commit, and the server on it with worktrees and the scripted agent. */
async function startLauncher(): Promise<{ launcher: Launcher; trigger: string }> {
  const launcher = new Launcher();
  const repo = tempDir("cg-e2e-ws-repo-");
  const state = tempDir("cg-e2e-ws-state-");
  const scripts = tempDir("cg-e2e-ws-agent-");
  launcher.dirs.push(repo, state, scripts);
  git(repo, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(repo, "shared.txt"), "alpha\nbeta\ngamma\n");
  fs.writeFileSync(path.join(repo, "governance.yaml"), GOVERNANCE);
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "base");
  const script = path.join(scripts, "agent.sh");
  const trigger = path.join(scripts, "report-now");
  fs.writeFileSync(script, agent(trigger));
  await launcher.start(repo, [
    "--state-dir", state,
    // No --workspace: worktrees are the default.
    "--agent", "custom",
    "--agent-command", `sh ${script}`,
    // The department reports at once; it must stay running for the comment.
    "--close-grace-seconds", "600",
  ]);
  return { launcher, trigger };
}

async function department(request: APIRequestContext, url: string): Promise<any> {
  const status = await (await request.get(`${url}/api/status`)).json();
  return status.department_sessions[0];
}

test("worktree departments: plan ownership warnings, live workspace cards, review and comment", async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  const shot = (name: string) => page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
  const { launcher, trigger } = await startLauncher();
  try {
    const url = launcher.url;
    const errors = collectErrors(page);
    await page.goto(`${url}/`);
    await expect(page.locator("[data-hydrated=true]")).toBeVisible();
    await expect(page.getByTestId("push-state")).toHaveText("live");

    // A plan whose docs assignment names a path the rules give to `code`.
    const started = await (await request.post(`${url}/api/start_zhongshu_session`, { data: { task: "Edit shared.txt" } })).json();
    const zid: string = started.session.id;
    const reported = await request.post(`${url}/api/report_zhongshu_plan`, {
      data: {
        session_id: zid,
        summary: "docs edits shared.txt",
        assignments: [{ department: "docs", task: "Rewrite the second line of shared.txt", paths: ["shared.txt"] }],
      },
    });
    expect(reported.ok()).toBeTruthy();
    const plan = (await reported.json()).plan;
    expect(plan.ownership_warnings.map((w: any) => w.kind)).toEqual(["owned_by_other"]);

    // The dialog opens by push and lists the warning with its message; the assignment is marked.
    const dialog = page.getByTestId("plan-dialog");
    await expect(dialog).toBeVisible({ timeout: 20_000 });
    const warning = dialog.getByTestId("ownership-warning");
    await expect(warning).toHaveCount(1);
    await expect(warning).toHaveAttribute("data-kind", "owned_by_other");
    await expect(warning).toContainText(plan.ownership_warnings[0].message);
    await expect(warning).toContainText("owned by another department");
    await expect(dialog.getByTestId("plan-assignment").first().getByTestId("assignment-warned")).toBeVisible();
    await shot("1-plan-warnings");
    await dialog.getByTestId("confirm-plan").click();
    await expect(dialog).toBeHidden();

    // The department's card: its worktree ready on its branch, the live change counts and the
    // boundary warning (docs changed a file routed to code), all by push.
    const row = page.getByTestId("department-row").first();
    const workspace = row.getByTestId("workspace");
    await expect(workspace).toHaveAttribute("data-workspace-status", "ready", { timeout: 30_000 });
    await expect(workspace).toContainText(`governance/${zid}/docs`);
    await expect(row.getByTestId("changes")).toContainText("+1 −1 · 1 file(s)", { timeout: 20_000 });
    await expect(row.getByTestId("workspace-warnings")).toContainText("boundary");
    await expect(workspace).toContainText("1 warning(s)");
    await shot("2-workspace-card");
    // The department reports; its result reaches the inbox.
    fs.writeFileSync(trigger, "");
    await page.getByTestId("zhongshu-card").getByRole("button", { name: "Inbox" }).click();
    await expect(page.getByTestId("inbox-result")).toHaveCount(1, { timeout: 20_000 });

    // The review panel lists the edited file and shows its diff, lines coloured and numbered.
    await row.getByTestId("review-department").click();
    const review = page.getByTestId("review-panel");
    await expect(review).toBeVisible();
    await expect(review.getByTestId("review-file")).toHaveCount(1);
    await expect(review.getByTestId("review-file")).toContainText("shared.txt");
    await expect(review.getByTestId("review-file")).toContainText("modified");
    const diff = review.getByTestId("review-diff");
    await expect(diff).toHaveAttribute("data-path", "shared.txt");
    const added = diff.locator("tr.add");
    const removed = diff.locator("tr.del");
    await expect(added).toHaveCount(1);
    await expect(removed).toHaveCount(1);
    await expect(added.locator("td.code")).toHaveText("+BETA from docs");
    await expect(removed.locator("td.code")).toHaveText("-beta");
    // Old and new line numbers from the hunk header: line 2 on both sides.
    await expect(removed.locator("td.ln")).toHaveText(["2", ""]);
    await expect(added.locator("td.ln")).toHaveText(["", "2"]);
    await expect(diff.locator("tr.ctx").first().locator("td.ln")).toHaveText(["1", "1"]);
    await expect(diff.locator("tr.hunk")).toContainText("@@ -1,3 +1,3 @@");
    const colour = (selector: string) =>
      diff.locator(selector).first().evaluate((el) => getComputedStyle(el).backgroundColor);
    const [addColour, delColour, ctxColour] = await Promise.all([colour("tr.add"), colour("tr.del"), colour("tr.ctx")]);
    expect(addColour).not.toBe(ctxColour);
    expect(delColour).not.toBe(ctxColour);
    expect(addColour).not.toBe(delColour);
    await shot("3-review");

    // Refresh shows what the department changed since.
    const listed = await (await request.get(`${url}/api/workspaces`)).json();
    const worktree: string = listed.workspaces[0].path;
    fs.writeFileSync(path.join(worktree, "notes.md"), "one\ntwo\n");
    await review.getByTestId("review-refresh").click();
    await expect(review.getByTestId("review-file")).toHaveCount(2);
    await review.getByTestId("review-file").filter({ hasText: "notes.md" }).click();
    await expect(diff).toHaveAttribute("data-path", "notes.md");
    await expect(diff.locator("tr.add")).toHaveCount(2);
    await expect(review.getByTestId("review-file").filter({ hasText: "notes.md" })).toHaveAttribute("aria-pressed", "true");
    await review.getByTestId("review-file").filter({ hasText: "shared.txt" }).click();
    await expect(diff).toHaveAttribute("data-path", "shared.txt");

    // A comment reaches the department's terminal (its PTY echoes what is typed), naming the file.
    const comment = `please keep beta lowercase ${Date.now()}`;
    await review.getByTestId("review-comment").fill(comment);
    await review.getByTestId("review-send").click();
    await expect(review.getByTestId("review-note")).toHaveText("Comment sent to the department's terminal");
    await expect(review.getByTestId("review-comment")).toHaveValue("");
    const logPath: string = (await department(request, url)).log_path;
    await expect
      .poll(() => fs.readFileSync(logPath, "utf8"), { timeout: 10_000 })
      .toContain(`[review shared.txt] ${comment}`);

    // The same dashboard in a phone-sized window.
    await page.setViewportSize({ width: 390, height: 844 });
    await expectNoSidewaysScrolling(page);
    await shot("4-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });

    // Once the session ends, the comment box is disabled (the card follows by push).
    const departmentId: string = (await department(request, url)).id;
    const closed = await request.post(`${url}/api/close_session`, { data: { session_id: departmentId } });
    expect(closed.ok()).toBeTruthy();
    await expect(review.getByTestId("review-send")).toBeDisabled({ timeout: 10_000 });
    await expect(review.getByTestId("review-comment")).toBeDisabled();
    await expect(workspace).toHaveAttribute("data-workspace-status", "closed", { timeout: 10_000 });
    // The worktree stays reviewable after the session.
    await review.getByTestId("review-refresh").click();
    await expect(review.getByTestId("review-file")).toHaveCount(2);
    expect(errors).toEqual([]);

    // A failure shows the server's message: with the worktree gone, the diff answers 409.
    fs.rmSync(worktree, { recursive: true, force: true });
    await review.getByTestId("review-refresh").click();
    await expect(review.getByTestId("review-error")).toContainText(`the worktree of ${departmentId} is not there`);
    await expect(review.getByTestId("review-file")).toHaveCount(0);
    await review.getByTestId("review-close").click();
    await expect(review).toBeHidden();
    // The only console error since is the browser's note of that 409.
    expect(errors.filter((e) => !e.includes("409"))).toEqual([]);
  } finally {
    // The page's push stream would hold the server's shutdown for its grace period.
    await page.goto("about:blank");
    await launcher.stop();
  }
});
