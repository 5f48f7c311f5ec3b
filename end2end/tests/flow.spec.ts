import { test, expect } from "@playwright/test";
import { collectErrors, expectNoSidewaysScrolling } from "./support";

// The whole launcher flow in the dashboard with the built-in demo agent, everything by push.
test("start Zhongshu, confirm the plan, watch departments, read results, restart", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const shot = (name: string) => page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
  const errors = collectErrors(page);

  await page.goto("/");
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expect(page.getByTestId("push-state")).toHaveText("live");
  await shot("1-empty");

  await page.locator("#task-input").fill("Tidy the README\nand the scripts");
  await page.getByTestId("start-zhongshu").click();
  await expect(page.getByTestId("notice")).toContainText("started");
  await expect(page.getByTestId("zhongshu-card")).toHaveCount(1);

  // The demo Zhongshu reports a plan: the dialog opens by push.
  const dialog = page.getByTestId("plan-dialog");
  await expect(dialog).toBeVisible({ timeout: 30_000 });
  await expect(dialog.getByTestId("plan-assignment")).toHaveCount(3);
  await shot("2-plan-dialog");
  const firstTask = dialog.getByTestId("plan-task").first();
  await firstTask.fill("Edited by the user: tidy the README");
  await dialog.getByTestId("confirm-plan").click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("notice")).toContainText("2 started, 1 queued");

  // Departments run with live terminal output.
  await expect(page.getByTestId("department-row").first()).toBeVisible();
  const pane = page.locator('[data-testid=session-pane]:not([data-session-id^="zhongshu"])').first();
  // xterm.js renders only what is on screen.
  await pane.scrollIntoViewIfNeeded();
  await expect(pane.locator(".xterm-rows")).toContainText("Task:", { timeout: 30_000 });
  await shot("3-departments-running");

  // Results land in the inbox without a reload.
  await page.getByTestId("zhongshu-card").getByRole("button", { name: "Inbox" }).click();
  await expect(page.getByTestId("inbox-result")).toHaveCount(3, { timeout: 60_000 });
  await expect(page.getByTestId("inbox-results")).toContainText("Edited by the user");
  // A result's handoff packet opens inline.
  const firstResult = page.getByTestId("inbox-result").first();
  await firstResult.getByTestId("show-packet").click();
  await expect(firstResult.getByTestId("handoff-packet")).toContainText("# Codex Department Handoff");
  await expect(firstResult.getByTestId("handoff-packet")).toContainText("## Objective");
  await shot("4-inbox");
  // A push (opening a shell) refetches the inbox; the open packet stays open.
  const inboxRefetched = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/zhongshu_inbox");
  await page.getByTestId("open-shell").click();
  await inboxRefetched;
  await expect(firstResult.getByTestId("handoff-packet")).toBeVisible();
  await firstResult.getByTestId("show-packet").click();
  await expect(firstResult.getByTestId("handoff-packet")).toBeHidden();

  // Restart Zhongshu (inline: it is still running).
  await page.getByTestId("restart-zhongshu").first().click();
  await expect(page.getByTestId("notice")).toContainText("Resume prompt sent");
  await shot("5-restarted");

  // The same dashboard, busy, in a phone-sized window.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByTestId("inbox-result")).toHaveCount(3);
  await expectNoSidewaysScrolling(page);
  await shot("6-narrow");
  expect(errors).toEqual([]);
});
