/**
 * A codex-governance server of a test's own (the release binary on a free port), for tests that
 * need options the suite's shared server (serve.sh) does not have.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";

const root = path.resolve(__dirname, "../..");

/** A fresh directory under the system's temporary directory (removed by `Launcher.stop`). */
export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** Runs git in `repo` (with an identity for commits); throws on failure. */
export function git(repo: string, ...args: string[]): string {
  const out = spawnSync("git", ["-c", "user.name=e2e", "-c", "user.email=e2e@example.com", ...args], {
    cwd: repo,
    encoding: "utf8",
  });
  if (out.status !== 0) throw new Error(`git ${args.join(" ")}: ${out.stderr}`);
  return out.stdout.trim();
}

export class Launcher {
  url = "";
  private child?: ChildProcess;
  /** Directories removed by `stop`. */
  dirs: string[] = [];

  /**
   * Starts `codex-governance serve --port <port> --repo <repo> ...args` (port 0: a free one)
   * with `extraEnv` added to this process's environment; resolves with its URL.
   */
  async start(
    repo: string,
    args: string[],
    port = 0,
    extraEnv: NodeJS.ProcessEnv = {},
    binary = path.join(root, "target/release/codex-governance"),
  ): Promise<void> {
    const env = { ...process.env, ...extraEnv };
    delete env.LEPTOS_SITE_ADDR;
    // A graceful stop ends the agents and the PTY host (a SIGKILL, as `kill` sends, leaves them
    // to the host, as a crash would).
    const serve = ["serve", "--port", String(port), "--repo", repo, "--stop-agents-on-exit", ...args];
    this.child = spawn(binary, serve, {
      env,
      // Run from the binary's own directory: nothing there but what it brings.
      cwd: path.dirname(binary),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: this.child.stdout! });
    this.url = await new Promise<string>((resolve, reject) => {
      lines.once("line", (line) => {
        const url = line.split(/\s+/).find((w) => w.startsWith("http://"));
        url ? resolve(url.replace(/\/$/, "")) : reject(new Error(`no URL in ${line}`));
      });
      this.child!.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    });
  }

  /** Kills the server (SIGKILL, as a crash would); its directories stay. */
  async kill() {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }

  /** Stops the server (which ends its sessions), then removes the directories. */
  async stop() {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}
