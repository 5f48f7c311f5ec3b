import { test, expect } from "@playwright/test";

test("the terminal page echoes what is typed", async ({ page, request }, testInfo) => {
  const started = await request.post("/api/browser_terminal/start", {
    data: { shell: "/bin/sh" },
  });
  expect(started.ok()).toBeTruthy();
  const { terminal } = await started.json();
  const url = new URL(terminal.url);

  await page.goto(url.pathname + url.search);
  const screen = page.locator(".xterm-rows");
  await expect(screen).toBeVisible();
  await page.locator(".xterm").click();
  await page.keyboard.type("echo e2e-$((6*7))-ok\n");
  await expect(screen).toContainText("e2e-42-ok");
  await page.screenshot({ path: testInfo.outputPath("terminal.png") });

  // Without the token the page is refused.
  const refused = await request.get(url.pathname);
  expect(refused.status()).toBe(401);
  await request.post("/api/browser_terminal/close", { data: { id: terminal.id } });
});
