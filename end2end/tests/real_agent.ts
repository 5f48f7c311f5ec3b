/**
 * A launcher running the real Codex CLI (tools/agents, installed by scripts/setup.sh --e2e)
 * against a scripted local Responses API endpoint, for browser tests. The Rust integration
 * tests (server/tests/real_codex.rs) drive the same CLI through the API; these tests look at
 * what the dashboard shows of it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";

import { Launcher } from "./launcher";

const root = path.resolve(__dirname, "../..");
const agentBin = path.join(root, "tools/agents/node_modules/.bin");

export type Reply = { exec: string } | { say: string };

/** The scripted model: `script` answers each new user message; it records every one. */
export class ModelEndpoint {
  userMessages: string[] = [];
  private server: http.Server;
  port = 0;

  constructor(private script: (text: string) => Reply) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => this.answer(Buffer.concat(chunks).toString("utf8"), res));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  stop() {
    this.server.closeAllConnections();
    this.server.close();
  }

  private answer(body: string, res: http.ServerResponse) {
    const request = JSON.parse(body || "{}");
    const items: any[] = request.input ?? [];
    let reply: Reply;
    if (request.text?.format?.type === "json_schema") {
      reply = { say: JSON.stringify({ title: "Mock task" }) };
    } else if (items.at(-1)?.type === "function_call_output") {
      reply = { say: "Done." };
    } else {
      const user = [...items].reverse().find((i) => i.role === "user");
      const content = user?.content;
      const text = typeof content === "string" ? content : (content ?? []).map((p: any) => p.text ?? "").join("");
      this.userMessages.push(text);
      reply = this.script(text);
    }
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    for (const event of events(reply)) {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    }
    res.end();
  }
}

let next = 1;
function events(reply: Reply): any[] {
  const n = next++;
  const response = { id: `resp_${n}`, object: "response", status: "in_progress", output: [] as any[] };
  const out: any[] = [{ type: "response.created", response }];
  let done: any;
  if ("exec" in reply) {
    const args = JSON.stringify({ cmd: reply.exec, yield_time_ms: 10000 });
    const item = { type: "function_call", id: `fc_${n}`, call_id: `call_${n}`, name: "exec_command", arguments: "", status: "in_progress" };
    out.push({ type: "response.output_item.added", output_index: 0, item });
    out.push({ type: "response.function_call_arguments.delta", item_id: item.id, output_index: 0, delta: args });
    done = { ...item, arguments: args, status: "completed" };
  } else {
    const item = { type: "message", id: `msg_${n}`, role: "assistant", status: "in_progress", content: [] as any[] };
    out.push({ type: "response.output_item.added", output_index: 0, item });
    out.push({ type: "response.content_part.added", item_id: item.id, output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
    out.push({ type: "response.output_text.delta", item_id: item.id, output_index: 0, content_index: 0, delta: reply.say });
    out.push({ type: "response.output_text.done", item_id: item.id, output_index: 0, content_index: 0, text: reply.say });
    done = { ...item, status: "completed", content: [{ type: "output_text", text: reply.say, annotations: [] }] };
  }
  out.push({ type: "response.output_item.done", output_index: 0, item: done });
  const usage = { input_tokens: 2000, input_tokens_details: { cached_tokens: 800 }, output_tokens: 100, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 2100 };
  out.push({ type: "response.completed", response: { ...response, status: "completed", output: [done], usage } });
  return out;
}

/** A codex-governance server with the real Codex as its agent, in a fresh repository. */
export class CodexLauncher {
  private launcher = new Launcher();

  get url(): string {
    return this.launcher.url;
  }

  async start(endpoint: ModelEndpoint): Promise<void> {
    if (!fs.existsSync(path.join(agentBin, "codex"))) {
      throw new Error(`the real Codex CLI is missing in ${agentBin}: run scripts/setup.sh --e2e`);
    }
    const repo = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "cg-e2e-repo-")));
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "cg-e2e-codex-"));
    this.launcher.dirs.push(repo, home);
    fs.writeFileSync(path.join(repo, "README.md"), "# e2e\n");
    await run("git", ["init", "-q", repo]);
    fs.writeFileSync(
      path.join(home, "config.toml"),
      `model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "http://127.0.0.1:${endpoint.port}/v1"
wire_api = "responses"
requires_openai_auth = false
# A transient transport error under CI load must not end a turn (Codex retries 5 by default).
stream_max_retries = 2
request_max_retries = 2

[analytics]
enabled = false

[features]
plugins = false

[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"

[projects."${repo}"]
trust_level = "trusted"
`,
    );
    await this.launcher.start(repo, ["--agent", "codex"], 0, {
      PATH: `${agentBin}:${process.env.PATH}`,
      CODEX_HOME: home,
    });
  }

  /** Stops the server, then removes its directories. */
  async stop() {
    await this.launcher.stop();
  }
}

function run(program: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: "ignore" });
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${program} exited with ${code}`))));
  });
}
