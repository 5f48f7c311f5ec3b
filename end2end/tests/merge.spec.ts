import { test, expect, type Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";

import { Launcher, git, tempDir } from "./launcher";
import { collectErrors, expectNoSidewaysScrolling } from "./support";

// Verified completion and the merge gate in the inbox: a server with `--workspace worktree`
// whose governance rules verify `code` with a command that passes and `docs` with one that
// fails; the scripted departments edit a file, report and end.

const GOVERNANCE = `departments:
  code:
    globs: ["*.txt"]
    verify: ["grep -q FOUR shared.txt"]
  docs:
    globs: ["docs/**"]
    verify: ["echo checking docs; exit 3"]
`;

/** code appends to shared.txt, docs rewrites docs/guide.md; each reports and ends. */
const AGENT = `#!/bin/sh
if [ "$CODEX_GOVERNANCE_ROLE" != department ]; then exec sleep 300; fi
if [ "$CODEX_GOVERNANCE_DEPARTMENT" = docs ]; then
  file=docs/guide.md; echo "guide by docs" > "$file"
else
  file=shared.txt; echo "FOUR from code" >> "$file"
fi
id=$CODEX_GOVERNANCE_SESSION_ID
printf '{"parent_session_id":"%s","department_session_id":"%s","department":"%s","summary":"edited %s","changed_files":["%s"]}' \\
  "$CODEX_GOVERNANCE_PARENT_SESSION_ID" "$id" "$CODEX_GOVERNANCE_DEPARTMENT" "$file" "$file" > "$CODEX_GOVERNANCE_MAILBOX/.tmp-$id"
mv "$CODEX_GOVERNANCE_MAILBOX/.tmp-$id" "$CODEX_GOVERNANCE_MAILBOX/$id.json"
`;

async function startLauncher(): Promise<{ launcher: Launcher; repo: string }> {
  const launcher = new Launcher();
  const repo = tempDir("cg-e2e-merge-repo-");
  const state = tempDir("cg-e2e-merge-state-");
  const scripts = tempDir("cg-e2e-merge-agent-");
  launcher.dirs.push(repo, state, scripts);
  git(repo, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(repo, "shared.txt"), "one\ntwo\nthree\n");
  fs.mkdirSync(path.join(repo, "docs"));
  fs.writeFileSync(path.join(repo, "docs/guide.md"), "guide\n");
  fs.writeFileSync(path.join(repo, "governance.yaml"), GOVERNANCE);
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "base");
  const script = path.join(scripts, "agent.sh");
  fs.writeFileSync(script, AGENT);
  await launcher.start(repo, [
    "--state-dir", state,
    "--workspace", "worktree",
    "--agent", "custom",
    "--agent-command", `sh ${script}`,
  ]);
  return { launcher, repo };
}

/** The inbox result of a department. */
const result = (page: Page, department: string) =>
  page.getByTestId("inbox-result").filter({ has: page.locator("strong", { hasText: department }) });

test("inbox: verification of each result, verify again, its terminal, and the merge gate", async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  const shot = (name: string) => page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
  const { launcher, repo } = await startLauncher();
  try {
    const url = launcher.url;
    const errors = collectErrors(page);
    await page.goto(`${url}/`);
    await expect(page.locator("[data-hydrated=true]")).toBeVisible();
    await expect(page.getByTestId("push-state")).toHaveText("live");

    const started = await (await request.post(`${url}/api/start_zhongshu_session`, { data: { task: "Edit" } })).json();
    const zid: string = started.session.id;
    const ids: Record<string, string> = {};
    for (const department of ["code", "docs"]) {
      const answer = await request.post(`${url}/api/start_department`, {
        data: { parent_session_id: zid, department, task: `edit for ${department}` },
      });
      expect(answer.ok()).toBeTruthy();
      ids[department] = (await answer.json()).session.id;
    }
    await page.getByTestId("zhongshu-card").getByRole("button", { name: "Inbox" }).click();
    await expect(page.getByTestId("inbox-result")).toHaveCount(2, { timeout: 30_000 });

    // code: passed, its command with exit code 0 and a duration.
    const code = result(page, "code");
    const codeCheck = code.getByTestId("verification");
    await expect(codeCheck).toHaveAttribute("data-status", "passed", { timeout: 30_000 });
    await expect(codeCheck.getByTestId("verification-status")).toHaveText("passed");
    const codeCommand = codeCheck.getByTestId("verify-command");
    await expect(codeCommand).toHaveCount(1);
    await expect(codeCommand).toContainText("grep -q FOUR shared.txt");
    await expect(codeCommand).toHaveAttribute("data-exit-code", "0");
    await expect(codeCommand).toContainText("exit 0");
    await expect(codeCommand).toContainText(/\d+(\.\d)? m?s/);

    // docs: failed with exit code 3; its output on demand.
    const docs = result(page, "docs");
    const docsCheck = docs.getByTestId("verification");
    await expect(docsCheck).toHaveAttribute("data-status", "failed", { timeout: 30_000 });
    const docsCommand = docsCheck.getByTestId("verify-command");
    await expect(docsCommand).toHaveAttribute("data-exit-code", "3");
    await expect(docsCommand).toContainText("exit 3");
    await expect(docsCommand.getByTestId("verify-output")).toBeHidden();
    await docsCommand.locator("summary").click();
    await expect(docsCommand.getByTestId("verify-output")).toContainText("checking docs");

    // Both departments ended: their merge controls show (by push).
    await expect(code.getByTestId("merge")).toBeVisible({ timeout: 20_000 });
    await expect(docs.getByTestId("merge")).toBeVisible({ timeout: 20_000 });
    await expect(docs.getByTestId("merge-button")).toBeDisabled();
    await expect(docs.getByTestId("merge-anyway")).toBeVisible();
    await expect(code.getByTestId("merge-button")).toBeEnabled();
    await expect(code.getByTestId("merge-anyway")).toHaveCount(0);
    await shot("1-verification");

    // The terminal the commands ran in, in a window of its own.
    const popup = page.waitForEvent("popup");
    await docsCheck.getByTestId("verify-terminal").click();
    const terminal = await popup;
    await terminal.waitForURL(/\/terminal\/[^?]+\?token=/);
    await expect(terminal.locator(".xterm-rows")).toContainText("exit code 3", { timeout: 10_000 });
    await terminal.close();

    // Verify again: it runs once more and fails again.
    await docsCheck.getByTestId("verify-again").click();
    await expect(docs.getByTestId("merge-note")).toHaveText("Verification started");
    await expect(docs.getByTestId("verification")).toHaveAttribute("data-status", "failed", { timeout: 20_000 });

    // Without force the server refuses the unverified merge (409, its reason).
    const refused = await request.post(`${url}/api/merge_department`, { data: { session_id: ids.docs } });
    expect(refused.status()).toBe(409);
    expect((await refused.json()).ok).toBe(false);

    // Merge the verified department (squash): the repository's file has its edit.
    await code.getByTestId("merge-button").click();
    await expect(code.getByTestId("merge-note")).toContainText("Merged into main as", { timeout: 20_000 });
    await expect(code.getByTestId("merge-note")).toContainText("1 file(s)");
    expect(fs.readFileSync(path.join(repo, "shared.txt"), "utf8")).toContain("FOUR from code");
    // The card follows by push: merged, no more merge controls.
    await expect(code.getByTestId("merge")).toHaveCount(0, { timeout: 10_000 });
    await expect(code.getByText("merged", { exact: true })).toBeVisible();
    await shot("2-merged");

    // Merge anyway: dismissing the confirm does nothing; accepted, your uncommitted change on
    // the merged path refuses it, naming the path next to the button.
    page.once("dialog", (dialog) => dialog.dismiss());
    await docs.getByTestId("merge-anyway").click();
    await expect(docs.getByTestId("merge-note")).toHaveText("Verification started");
    fs.writeFileSync(path.join(repo, "docs/guide.md"), "guide\nmine\n");
    page.once("dialog", (dialog) => dialog.accept());
    await docs.getByTestId("merge-anyway").click();
    const note = docs.getByTestId("merge-note");
    await expect(note).toContainText("docs/guide.md", { timeout: 20_000 });
    await expect(note).toHaveClass(/error/);
    await shot("3-refused");
    // With the change undone, the forced merge goes through (a merge commit, branch deleted).
    fs.writeFileSync(path.join(repo, "docs/guide.md"), "guide\n");
    await docs.getByTestId("merge-strategy").selectOption("merge");
    await docs.getByTestId("merge-delete-branch").check();
    page.once("dialog", (dialog) => dialog.accept());
    await docs.getByTestId("merge-anyway").click();
    await expect(docs.getByTestId("merge-note")).toContainText("Merged into main as", { timeout: 20_000 });
    expect(fs.readFileSync(path.join(repo, "docs/guide.md"), "utf8")).toBe("guide by docs\n");
    expect(git(repo, "log", "-1", "--format=%P").split(" ")).toHaveLength(2);
    expect(git(repo, "branch", "--list", `governance/${zid}/docs`)).toBe("");

    await page.setViewportSize({ width: 390, height: 844 });
    await expectNoSidewaysScrolling(page);
    await page.setViewportSize({ width: 1280, height: 800 });
    // The only console errors: the browser's notes of the refused merge (409).
    expect(errors.filter((e) => !e.includes("409"))).toEqual([]);
  } finally {
    await page.goto("about:blank");
    await launcher.stop();
  }
});
