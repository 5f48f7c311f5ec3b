import { expect, test, type Locator } from "@playwright/test";
import { Terminal } from "@xterm/headless";
import * as fs from "node:fs";

import { CodexLauncher, ModelEndpoint } from "./real_agent";
import { collectErrors } from "./support";

/** The screen a terminal of this size shows after these bytes (trailing blanks trimmed). */
async function screenOf(bytes: Buffer, cols: number, rows: number): Promise<string[]> {
  const term = new Terminal({ cols, rows, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(bytes, resolve));
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < rows; y++) {
    lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true).trimEnd() ?? "");
  }
  term.dispose();
  return lines;
}

/** The rows a dashboard pane's xterm.js shows. */
async function paneRows(pane: Locator): Promise<string[]> {
  const rows = await pane.locator(".xterm-rows > div").allTextContents();
  return rows.map((row) => row.replace(/\u00a0/g, " ").trimEnd());
}

test("the real Codex TUI shows in a pane exactly as a terminal of its size computes it, and the user can answer it", async ({ page, request }) => {
  test.setTimeout(120_000);
  const endpoint = new ModelEndpoint((text) =>
    text.includes("You are Zhongshu")
      ? { exec: "printf 'alpha\\nbeta\\ngamma\\n'" }
      : { say: `ack: ${text.slice(0, 30)}` },
  );
  await endpoint.start();
  const launcher = new CodexLauncher();
  await launcher.start(endpoint);
  try {
    const errors = collectErrors(page);
    await page.goto(`${launcher.url}/`);
    const started = await (
      await request.post(`${launcher.url}/api/start_zhongshu_session`, { data: { task: "Render test" } })
    ).json();
    const id: string = started.session.id;
    const logPath: string = started.session.log_path;
    const agentState = async () => {
      const status = await (await request.get(`${launcher.url}/api/status`)).json();
      return status.sessions.find((s: any) => s.id === id)?.agent_state;
    };
    await expect.poll(agentState, { timeout: 30_000 }).toBe("done");

    // The pane adopts the PTY's 120x32 (it is narrower than 120 columns at the normal font), so
    // Codex's full-screen drawing lands on the cells it means.
    const pane = page.locator(`[data-testid=session-pane][data-session-id="${id}"]`);
    await expect(pane.locator(".xterm-rows > div")).toHaveCount(32);
    // xterm.js renders only what is on screen.
    await pane.scrollIntoViewIfNeeded();
    await expect(async () => {
      const expected = await screenOf(fs.readFileSync(logPath), 120, 32);
      expect(expected.join("\n")).toContain("gamma");
      expect(await paneRows(pane)).toEqual(expected);
    }).toPass({ timeout: 15_000 });

    // Taking control: keystrokes typed in the pane reach Codex and are submitted.
    await pane.getByTestId("take-control").click();
    await expect(pane.getByTestId("control-state")).toHaveText(/you have control/);
    await pane.locator(".xterm-helper-textarea").focus();
    await page.keyboard.type("hello from the browser", { delay: 30 });
    await page.waitForTimeout(300);
    await page.keyboard.press("Enter");
    await expect
      .poll(() => endpoint.userMessages.some((m) => m.includes("hello from the browser")), { timeout: 20_000 })
      .toBe(true);
    await pane.screenshot({ path: "test-results/real-codex-pane.png" });
    await pane.getByTestId("release-control").click();
    await expect(pane.getByTestId("take-control")).toBeVisible();
    expect(errors).toEqual([]);
  } finally {
    await launcher.stop();
    endpoint.stop();
  }
});
