#!/usr/bin/env python3
"""Checks the served OpenAPI document and fuzzes every operation against a live server.

1. Starts the release server with the demo agent on a scratch repository and state directory
   (both removed afterwards), and gives it real state: a Zhongshu with a confirmed plan, its
   departments' worktrees, results and handoff packets, and a browser terminal.
2. Validates `GET /api/openapi.json` as OpenAPI 3.1 (openapi-spec-validator).
3. Runs schemathesis on every operation but the push stream: examples, coverage and fuzzing
   phases, checking that no answer is a 5xx, that every status code, content type and body is
   the documented one, that every failure is the failure shape (hooks.py), that a request the
   schema forbids is refused, and that an undeclared method is a 405 with `Allow`. Real ids from
   step 1 are offered as parameter values, so requests reach the engine instead of stopping at
   "unknown session".

Usage: end2end/api/fuzz.py [--max-time SECONDS] [--seed N]   (run with tools/py/.venv's python)
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from openapi_spec_validator import validate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BINARY = Path(os.environ.get("CODEX_GOVERNANCE_BINARY", ROOT / "target/release/codex-governance"))
VENV_BIN = Path(sys.executable).parent
# No 5xx; status codes, content types and bodies as documented; failures in the failure shape.
# Undeclared methods answer 405 with `Allow`; requests that violate the schema are refused.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "failures_use_the_failure_shape",
    "unsupported_method",
    "allow_header_conformance",
    "negative_data_rejection",
]


def say(message: str) -> None:
    print(f"[api-fuzz] {message}", flush=True)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=fuzz", "-c", "user.email=fuzz@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


class Server:
    """The release server on a free port, its agents ended with it."""

    def __init__(self, repo: Path, state: Path):
        # Browser terminals the fuzzer starts without a `shell` run $SHELL: `cat`, never the
        # user's shell (its startup files would run hundreds of times, and a login shell killed
        # mid-startup can leave locks behind, such as pyenv's rehash lock).
        env = dict(os.environ, CODEX_GOVERNANCE_DEMO_STEP_MS="200", SHELL="/bin/cat")
        env.pop("LEPTOS_SITE_ADDR", None)
        self.process = subprocess.Popen(
            [
                str(BINARY), "serve", "--port", "0", "--repo", str(repo),
                "--state-dir", str(state), "--agent", "demo", "--stop-agents-on-exit",
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        line = self.process.stdout.readline()
        words = [w for w in line.split() if w.startswith("http://")]
        if not words:
            self.stop()
            raise SystemExit(f"the server printed no URL: {line!r}")
        self.url = words[0].rstrip("/")

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def wait(self, what: str, probe, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def seed_state(server: Server) -> dict:
    """Real ids for the fuzzer: a confirmed plan with reported departments, and a terminal."""
    started = server.call("POST", "/api/start_zhongshu_session", {"task": "fuzz the API"})
    zhongshu = started["session"]["id"]
    plan = server.wait(
        "the demo Zhongshu's plan",
        lambda: (p := server.call("GET", f"/api/zhongshu_plan?id={zhongshu}")["plan"])["ready"] and p,
    )
    server.call(
        "POST",
        "/api/start_assignments",
        {"parent_session_id": zhongshu, "assignments": plan["assignments"]},
    )
    inbox = server.wait(
        "the departments' results",
        lambda: (i := server.call("GET", f"/api/zhongshu_inbox?id={zhongshu}&peek=1"))["unread_count"]
        >= len(plan["assignments"]) and i,
        timeout=120,
    )
    results = inbox["unread_results"]
    terminal = server.call("POST", "/api/browser_terminal/start", {"shell": "/bin/cat"})["terminal"]
    status = server.call("GET", "/api/status")
    departments = [s["id"] for s in status["department_sessions"]]
    return {
        "zhongshu_ids": [zhongshu],
        "department_ids": departments,
        "session_ids": [zhongshu, *departments],
        "report_ids": [r["report_id"] for r in results],
        "terminal_ids": [terminal["id"]],
        "department_keys": list(status["departments"]),
        "models": status["model_choices"],
    }


def config(ids: dict, seed: int, max_time: int) -> str:
    """schemathesis.toml: the real ids as dictionaries bound to the parameters that take them."""
    dictionaries = "\n".join(
        f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n" for name, values in ids.items()
    )
    bindings = {
        "query.id": "zhongshu_ids",
        "query.session_id": "department_ids",
        "query.report_id": "report_ids",
        "body.session_id": "session_ids",
        "body.parent_session_id": "zhongshu_ids",
        "body.id": "terminal_ids",
        "body.department": "department_keys",
        "body.model": "models",
        "body.assignments[*].department": "department_keys",
        "body.assignments[*].model": "models",
    }
    parameters = "\n".join(
        f'"{key}" = {{ dictionary = "{name}", probability = 0.7 }}' for key, name in bindings.items()
    )
    return f"""seed = {seed}
max-time = {max_time}
workers = 2
continue-on-failure = true

[generation]
max-examples = 50
database = "none"

[parameters]
# A browser terminal runs what `shell` names: only ever `cat` here.
"body.shell" = "/bin/cat"
{parameters}

{dictionaries}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=100, help="fuzzing budget in seconds")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    args = parser.parse_args()
    if not BINARY.is_file():
        raise SystemExit(f"{BINARY} is missing: run `cargo xtask build --release` first")

    scratch = Path(tempfile.mkdtemp(prefix="codex-governance-fuzz-"))
    repo, state = scratch / "repo", scratch / "state"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("# fuzz fixture\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "fixture")
    server = Server(repo, state)
    try:
        say(f"server {server.url} on {repo}")
        started = time.monotonic()
        ids = seed_state(server)
        say(
            f"seeded in {time.monotonic() - started:.1f} s: {len(ids['session_ids'])} sessions, "
            f"{len(ids['report_ids'])} results, 1 terminal"
        )

        with urllib.request.urlopen(server.url + "/api/openapi.json", timeout=30) as response:
            document = json.loads(response.read())
        validate(document)
        operations = sum(len(item) for item in document["paths"].values())
        say(f"/api/openapi.json is valid OpenAPI {document['openapi']}: {operations} operations")

        (scratch / "schemathesis.toml").write_text(config(ids, args.seed, args.max_time))
        env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=str(HERE))
        run = subprocess.run(
            [
                str(VENV_BIN / "schemathesis"), "--config-file", str(scratch / "schemathesis.toml"),
                "run", server.url + "/api/openapi.json", "--url", server.url,
                "--exclude-path", "/api/events",
                "--phases", "examples,coverage,fuzzing",
                "--checks", ",".join(CHECKS),
            ],
            cwd=scratch,
            env=env,
        )
        alive = server.process.poll() is None
        if not alive:
            say("the server died during the run")
        return 0 if run.returncode == 0 and alive else 1
    finally:
        code = server.stop()
        say(f"server stopped (exit {code})")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
