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

test("a terminal page reconnects after a dropped socket and shows each byte once", async ({ page, request }) => {
  const started = await request.post("/api/browser_terminal/start", { data: { shell: "/bin/sh" } });
  const { terminal } = await started.json();
  const url = new URL(terminal.url);
  // Every terminal socket goes through a route this test can cut.
  const routes: { url: string; cut: () => Promise<void> }[] = [];
  await page.routeWebSocket(/\/ws\/terminal\//, (ws) => {
    const server = ws.connectToServer();
    routes.push({ url: ws.url(), cut: async () => { await server.close(); await ws.close({ code: 1006 }); } });
  });

  await page.goto(url.pathname + url.search);
  const screen = page.locator(".xterm-rows");
  await page.locator(".xterm").click();
  await page.keyboard.type("printf 'mark-%d\\n' 7 8 9\n");
  await expect(screen).toContainText("mark-9");
  expect(routes.length).toBe(1);
  expect(routes[0].url).not.toContain("since=");

  // Output printed while the socket is down arrives after the reconnect, once.
  await page.keyboard.type("sleep 1; echo after-$((40+2))\n");
  await routes[0].cut();
  await expect.poll(() => routes.length, { timeout: 10_000 }).toBe(2);
  const since = Number(new URL(routes[1].url).searchParams.get("since"));
  expect(since).toBeGreaterThan(0);
  await expect(screen).toContainText("after-42", { timeout: 10_000 });
  const text = (await screen.innerText()).replace(/\u00a0/g, " ");
  expect(text.split("mark-9").length - 1).toBe(1);
  expect(text.split("after-42").length - 1).toBe(1);

  // The new socket carries input as the old one did.
  await page.keyboard.type("echo again-$((6*7))\n");
  await expect(screen).toContainText("again-42");
  await request.post("/api/browser_terminal/close", { data: { id: terminal.id } });
});
