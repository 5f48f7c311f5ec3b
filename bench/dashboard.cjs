// Driven by bench/dashboard.sh: measures hydration time and mailbox -> DOM latency in Chromium.
const { chromium } = require("@playwright/test");
const fs = require("fs");
const path = require("path");

const [port, stateDir, rawBytes, gzBytes] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });

  const hydration = [];
  for (let i = 0; i < 10; i++) {
    const start = Date.now();
    await page.goto(base + "/");
    await page.waitForSelector("[data-hydrated=true]");
    hydration.push(Date.now() - start);
  }

  const started = await page.request.post(base + "/api/start_zhongshu_session", { data: { task: "latency bench" } });
  const zid = (await started.json()).session.id;
  await page.goto(base + "/");
  await page.waitForSelector("[data-hydrated=true]");
  await page.getByTestId("zhongshu-card").getByRole("button", { name: "Inbox" }).click();
  await page.waitForFunction(() => document.querySelector("[data-testid=push-state]")?.textContent === "live");
  const incoming = path.join(stateDir, "codex_governance_mailbox", zid, "incoming");
  const latencies = [];
  for (let i = 0; i < 30; i++) {
    const report = { parent_session_id: zid, department_session_id: `zhilibu-bench-${i}`, department: "zhilibu", summary: `bench ${i}` };
    const temp = path.join(incoming, `.r${i}.tmp`);
    fs.writeFileSync(temp, JSON.stringify(report));
    const written = Date.now();
    fs.renameSync(temp, path.join(incoming, `r${i}.json`));
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=inbox-result]").length >= n, i + 1, { polling: "raf" });
    latencies.push(Date.now() - written);
  }
  await browser.close();
  console.log("| measure | value |");
  console.log("|---|---|");
  console.log(`| release wasm | ${rawBytes} bytes raw, ${gzBytes} bytes gzip -9 |`);
  console.log(`| time to hydrated dashboard (10 loads) | median ${median(hydration)} ms, max ${Math.max(...hydration)} ms |`);
  console.log(`| mailbox file -> result in the DOM (30 reports) | median ${median(latencies)} ms, p90 ${pct(latencies, 0.9)} ms |`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
