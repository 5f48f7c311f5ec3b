import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { Launcher, git, tempDir } from "./launcher";

// The release binary carries its dashboard: copied alone into an empty directory (and run from
// there, with no LEPTOS_SITE_ROOT), it still serves a page that hydrates.
test("the release binary copied alone serves a dashboard that hydrates", async ({ page }) => {
  const alone = tempDir("cg-standalone-");
  const binary = path.join(alone, "codex-governance");
  fs.copyFileSync(path.resolve(__dirname, "../../target/release/codex-governance"), binary);
  fs.chmodSync(binary, 0o755);
  const repo = tempDir("cg-standalone-repo-");
  git(repo, "init", "-q");
  const launcher = new Launcher();
  launcher.dirs.push(alone, repo);
  const env = { LEPTOS_SITE_ROOT: "" };
  try {
    await launcher.start(repo, ["--agent", "demo"], 0, env, binary);
    const wasm = await page.request.get(`${launcher.url}/pkg/codex-governance.wasm`, {
      headers: { "Accept-Encoding": "br, gzip" },
    });
    expect(wasm.status()).toBe(200);
    expect(wasm.headers()["content-encoding"]).toBe("br");
    expect(wasm.headers()["etag"]).toBeTruthy();
    await page.goto(launcher.url);
    await expect(page.locator("[data-hydrated=true]")).toBeVisible();
    await expect(page.getByTestId("agent-name")).toContainText("demo");
  } finally {
    await launcher.stop();
  }
});
