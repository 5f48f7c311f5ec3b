import { test, expect } from "@playwright/test";
import { expectNoSidewaysScrolling } from "./layout";

test("dashboard hydrates and shows the launcher status from /api/status", async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });

  await page.goto("/");
  await expect(page).toHaveTitle(/codex-governance/);
  // The wasm has taken over the server-rendered markup.
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();

  // The Refresh button only works once hydrated: it refetches /api/status over HTTP.
  const statusResponse = page.waitForResponse(
    (r) => new URL(r.url()).pathname === "/api/status" && r.status() === 200,
  );
  await page.getByRole("button", { name: "Refresh" }).click();
  const payload = await (await statusResponse).json();
  expect(payload.ok).toBe(true);

  await expect(page.getByTestId("agent-name")).toContainText("demo");
  await expect(page.getByTestId("department-slots")).toHaveText(
    `${payload.active_department_sessions} / ${payload.max_department_sessions}`,
  );
  await expect(page.getByTestId("project-name")).toHaveText(payload.project_name);
  await expect(page.getByTestId("department-list")).toContainText("menxia");
  await expect(page.getByTestId("report-summary")).toContainText("mode worktree");

  await page.screenshot({ path: testInfo.outputPath("dashboard.png"), fullPage: true });
  expect(errors).toEqual([]);
});

test("a narrow window stacks the panels without horizontal scrolling", async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/");
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expectNoSidewaysScrolling(page);
  const start = page.getByRole("button", { name: "Start Zhongshu" });
  await start.scrollIntoViewIfNeeded();
  await expect(start).toBeInViewport();
  await page.screenshot({ path: testInfo.outputPath("dashboard-narrow.png"), fullPage: true });
});
