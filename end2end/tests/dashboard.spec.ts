import { test, expect } from "@playwright/test";
import { collectErrors, expectNoSidewaysScrolling } from "./support";

test("dashboard hydrates and shows the launcher status from /api/status", async ({ page }, testInfo) => {
  const errors = collectErrors(page);

  await page.goto("/");
  await expect(page).toHaveTitle(/codex-governance/);
  // The wasm has taken over the server-rendered markup.
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();

  // The Refresh button only works once hydrated: it refetches /api/status over HTTP.
  const statusResponse = page.waitForResponse(
    (r) => new URL(r.url()).pathname === "/api/status" && r.status() === 200,
  );
  await page.getByRole("button", { name: "Refresh", exact: true }).click();
  const payload = await (await statusResponse).json();
  expect(payload.ok).toBe(true);

  await expect(page.getByTestId("agent-name")).toContainText("demo");
  await expect(page.getByTestId("department-slots")).toHaveText(
    `${payload.active_department_sessions} / ${payload.max_department_sessions}`,
  );
  await expect(page.getByTestId("project-name")).toHaveText(payload.project_name);
  await expect(page.getByTestId("department-list")).toContainText("menxia");
  await expect(page.getByTestId("report-summary")).toContainText("mode worktree");
  // The fixture repository has no commit yet: worktrees (the default) fall back, and say so.
  await expect(page.getByTestId("workspace-mode")).toHaveText("a Git worktree per department");
  expect(payload.workspace.mode).toBe("worktree");
  await expect(page.getByTestId("workspace-warning")).toHaveText(payload.workspace.warning);
  await expect(page.getByTestId("workspace-warning")).toContainText("no commit yet");
  // Agents run in the PTY host, so a server restart keeps them.
  expect(payload.pty_host.pid).toBeGreaterThan(0);
  await expect(page.getByTestId("pty-host")).toHaveText(`kept by the PTY host (pid ${payload.pty_host.pid})`);

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

test("the language toggle switches the labels to 中文 and back", async ({ page }, testInfo) => {
  const errors = collectErrors(page);
  await page.goto("/");
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await page.getByTestId("lang-toggle").click();

  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expect(page.getByRole("button", { name: "启动中书省" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "启动器状态" })).toBeVisible();
  await expect(page.getByRole("tab", { name: "工作区" })).toBeVisible();
  await expect(page.getByTestId("lang-toggle")).toHaveText("English");
  // The server renders the chosen language (no flash of English before hydration).
  const html = await (await page.request.get("/")).text();
  expect(html).toContain('lang="zh-CN"');
  expect(html).toContain("启动中书省");
  for (const english of ["Start Zhongshu", "Launcher status", "Governance report", "Terminals", "Refresh"]) {
    expect(html).not.toContain(`>${english}<`);
  }
  await page.screenshot({ path: testInfo.outputPath("dashboard-zh.png"), fullPage: true });

  await page.getByTestId("lang-toggle").click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("button", { name: "Start Zhongshu" })).toBeVisible();
  // Hydrated again, so errors of this load are in the list too.
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  expect(errors).toEqual([]);
});

test("the report panel shows a new file by push, without a refresh", async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto("/");
  await expect(page.locator("[data-hydrated=true]")).toBeVisible();
  await expect(page.getByTestId("report-summary")).toContainText("mode worktree");
  // The server under test governs this repository (see serve.sh).
  const port = Number(process.env.E2E_PORT ?? 6299);
  const name = `live-${Date.now()}.md`;
  const fs = await import("node:fs");
  const path = await import("node:path");
  fs.writeFileSync(path.join(__dirname, `../../target/e2e-repo-${port}`, name), "live\n");
  await expect(page.locator(".panel.report")).toContainText(name, { timeout: 5_000 });
  expect(errors).toEqual([]);
});
