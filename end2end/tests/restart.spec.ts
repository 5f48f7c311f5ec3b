import { test, expect } from "@playwright/test";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

import { Launcher, git, tempDir } from "./launcher";

/** A free loopback port (the restarted server must come back on the same one). */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

test("a session's terminal page stays open across a server kill and shows every tick once", async ({ page, request }) => {
  test.setTimeout(90_000);
  const launcher = new Launcher();
  const repo = tempDir("cg-e2e-restart-repo-");
  const scripts = tempDir("cg-e2e-restart-agent-");
  launcher.dirs.push(repo, scripts);
  git(repo, "init", "-q");
  const script = path.join(scripts, "agent.sh");
  fs.writeFileSync(script, "i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo tick-$i; sleep 0.1; done\n");
  const port = await freePort();
  const args = ["--agent", "custom", "--agent-command", `sh ${script}`];
  try {
    await launcher.start(repo, args, port);
    const url = launcher.url;
    const started = await (await request.post(`${url}/api/start_zhongshu_session`, { data: { task: "count" } })).json();
    const id = started.session.id;
    const view = await (await request.post(`${url}/api/session_browser_terminal/start`, { data: { session_id: id } })).json();
    const terminal = new URL(view.terminal.url);

    // Every terminal socket is recorded: its URL and the frames the page got.
    const sockets: { url: string; frames: any[] }[] = [];
    await page.routeWebSocket(/\/ws\/terminal\//, (ws) => {
      const record = { url: ws.url(), frames: [] as any[] };
      sockets.push(record);
      const server = ws.connectToServer();
      server.onMessage((message) => {
        if (typeof message === "string") record.frames.push(JSON.parse(message));
        ws.send(message);
      });
      server.onClose((code, reason) => ws.close({ code, reason }));
    });
    await page.goto(`${url}${terminal.pathname}${terminal.search}`);
    const screen = page.locator(".xterm-rows");
    await expect(screen).toContainText("tick-8");

    // The server dies; the agent goes on in the PTY host; a new server comes up on the port.
    await launcher.kill();
    await page.waitForTimeout(700);
    await launcher.start(repo, args, port);

    // The page reconnects on its own with `since`, and the new server resumes exactly there.
    await expect.poll(() => sockets.some((s) => s.url.includes("since=") && s.frames.some((f) => f.type === "hello")), { timeout: 20_000 }).toBe(true);
    const resumed = sockets.find((s) => s.url.includes("since=") && s.frames.some((f) => f.type === "hello"))!;
    const since = Number(new URL(resumed.url).searchParams.get("since"));
    expect(since).toBeGreaterThan(0);
    expect(resumed.frames[0]).toMatchObject({ type: "hello", offset: since });
    expect(resumed.frames.some((f) => f.type === "snapshot" || f.type === "skipped")).toBe(false);

    // The screen shows consecutive ticks, none twice, and ticks printed after the restart.
    const status = await (await request.get(`${url}/api/status`)).json();
    const session = status.sessions.find((s: any) => s.id === id);
    expect(session.status).toBe("running");
    expect(session.pid).toBe(started.session.pid);
    await page.waitForTimeout(1500);
    const text = (await screen.innerText()).replace(/\u00a0/g, " ");
    const seen = [...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
    expect(seen.length).toBeGreaterThan(10);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe(seen[i - 1] + 1);
  } finally {
    // This test's PTY host and its agent end, then the server and the directories go.
    const { spawnSync } = await import("node:child_process");
    spawnSync(path.resolve(__dirname, "../../target/release/codex-governance"), ["stop", "--repo", repo]);
    await launcher.stop();
  }
});
