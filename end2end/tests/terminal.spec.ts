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

test("a late viewer of a full-screen program gets the server's screen, not a cut replay", async ({ page, request }) => {
  // More than the retained 1 MiB, then a full-screen program's frame on the alternate screen.
  const script = [
    "stty raw -echo",
    "head -c 1300000 /dev/zero | tr '\\0' x",
    "printf '\\033[?1049h\\033[2J\\033[H\\033[1;31mTUI-TITLE\\033[0m\\033[5;10H\\033[44mBOX\\033[0m\\033[10;1Hstatus-line\\033[3;3H'",
    "sleep 600",
  ].join("; ");
  const started = await request.post("/api/browser_terminal/start", {
    data: { shell: "/bin/sh", shell_args: ["-c", script] },
  });
  const { terminal } = await started.json();
  const url = new URL(terminal.url);
  // Wait until the frame is drawn (the server's terminal list shows it running; give it time).
  await page.waitForTimeout(1500);
  const frames: any[] = [];
  await page.routeWebSocket(/\/ws\/terminal\//, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (typeof message === "string") frames.push(JSON.parse(message));
      ws.send(message);
    });
  });
  await page.goto(url.pathname + url.search);
  const rows = page.locator(".xterm-rows > div");
  await expect(rows.nth(0)).toContainText("TUI-TITLE");
  const snapshot = frames.find((f) => f.type === "snapshot");
  expect(snapshot, JSON.stringify(frames.map((f) => f.type))).toBeTruthy();
  expect(frames[0].type).toBe("hello");
  expect(frames[0].offset).toBe(snapshot.offset);
  expect(snapshot.offset).toBeGreaterThan(1_300_000);
  // The screen as the program drew it: the box on row 5 from column 10, the status on row 10,
  // and none of the output before it (a replay cut in the middle would show x's).
  const text = async (i: number) => (await rows.nth(i).innerText()).replace(/\u00a0/g, " ");
  expect((await text(0)).trimEnd()).toBe("TUI-TITLE");
  expect(await text(4)).toMatch(/^ {9}BOX\s*$/);
  expect((await text(9)).trimEnd()).toBe("status-line");
  const all = (await page.locator(".xterm-rows").innerText()).replace(/\u00a0/g, " ");
  expect(all).not.toContain("xxx");
  await request.post("/api/browser_terminal/close", { data: { id: terminal.id } });
});
