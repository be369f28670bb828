"""A small l4plan project driven through the real CLI: one agent, one site and
`apps` applications made with for_each from a variable, each forwarding one edge
port to a TCP echo origin. Trials switch between variants of `apps` (comments,
ports, applications added and removed) so every apply changes real things."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.agent.harness import Agent, Origins
from tests.e2e.fleet import ENTRY, cli_env
from tests.reliability.support import agent, forwards, free

CLI_TIMEOUT = 120.0

MAIN = """
variable "endpoint" {
  type = string
}

variable "token" {
  type      = string
  default   = null
  sensitive = true
}

variable "apps" {
  type = map(object({ port = string, comment = string }))
}

variable "origin_port" {
  type = string
}

agent "a" {
  endpoint    = var.endpoint
  token       = var.token
  public_ipv4 = "127.0.0.1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.a]
}

resource "l4_application" "app" {
  for_each = var.apps

  site   = l4_site.main.id
  domain = each.key

  rule {
    protocol    = "tcp"
    edge_port   = each.value.port
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = var.origin_port
    comment     = each.value.comment
  }
}

output "domains" {
  value = [for a in l4_application.app : a.id]
}
"""

LOCK_ID = re.compile(r"ID:\s+(\S+)")


class Stack:
    def __init__(
        self,
        tmp: Path,
        origins: Origins,
        *,
        backend: str = "",
        n_apps: int = 6,
        token: str | None = None,
        agent_flags: tuple[str, ...] = ("--drain-timeout", "0s"),
        workdir: Path | None = None,
    ) -> None:
        self.workdir = workdir or tmp / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "main.l4.hcl").write_text(MAIN + backend)
        self.origin_port = free()
        origins.tcp(self.origin_port)
        self.ports = [free() for _ in range(n_apps + 2)]
        self.agent: Agent = agent(tmp, "agent", *agent_flags, token=token)
        self.token = token
        self.variant = 0
        self.pg: tuple[str, str] | None = None  # (conn_str, schema) of a pg backend

    def start(self) -> Stack:
        """Start the agent; on failure it is stopped again (never left running)."""
        try:
            self.agent.start()
        except BaseException:
            self.agent.kill()
            raise
        return self

    def stop(self) -> None:
        self.agent.kill()

    def apps(self, variant: int) -> dict[str, dict[str, str]]:
        """Variant 0 and 1 share most applications (with different comments), and each
        has one of its own; variant 1 moves one application to another port."""
        n = len(self.ports) - 2
        out = {
            f"app{i}": {"port": str(self.ports[i]), "comment": f"app {i}, variant {variant}"}
            for i in range(n)
        }
        out["app0"]["port"] = str(self.ports[0] if variant == 0 else self.ports[n])
        out[f"only{variant}"] = {"port": str(self.ports[n + 1]), "comment": "own"}
        return out

    def var_args(self, variant: int | None = None) -> list[str]:
        v = self.variant if variant is None else variant
        args = [
            "--var",
            f"endpoint={self.agent.endpoint}",
            "--var",
            f"apps={json.dumps(self.apps(v))}",
            "--var",
            f"origin_port={self.origin_port}",
        ]
        return args

    def argv(self, *args: str, variables: bool = True) -> list[str]:
        argv = [sys.executable, "-c", ENTRY, *args]
        if variables:
            argv += self.var_args()
        return argv

    def env(self) -> dict[str, str]:
        return cli_env({"L4PLAN_VAR_token": self.token} if self.token else None)

    def run(
        self, *args: str, variables: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args, variables=variables),
            cwd=self.workdir,
            env={**self.env(), **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.workdir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.run("apply", "--auto-approve", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def plan_is_empty(self) -> tuple[bool, str]:
        done = self.run("plan", "--detailed-exitcode")
        return done.returncode == 0, done.stdout + done.stderr

    def serving(self, variant: int | None = None) -> list[str]:
        """The applications of `variant` whose edge port does not forward (empty: all do)."""
        v = self.variant if variant is None else variant
        return [name for name, a in self.apps(v).items() if not forwards(int(a["port"]))]

    def converge(self) -> tuple[str, list[str]]:
        """The next apply after a crash: it either runs, or reports the stale lock,
        which is then cleared with force-unlock as the message says and the apply
        retried. Returns how the lock was found and a list of problems."""
        problems: list[str] = []
        how = "free"
        done = self.run("apply", "--auto-approve", "--lock-timeout", "0s")
        if done.returncode != 0 and "locked" in done.stderr:
            how = "reported"
            match = LOCK_ID.search(done.stderr)
            if "force-unlock" not in done.stderr or not match:
                problems.append(f"stale lock reported without a way out: {done.stderr}")
                return how, problems
            unlocked = self.run("force-unlock", "--force", match.group(1), variables=False)
            if unlocked.returncode != 0:
                problems.append(f"force-unlock failed: {unlocked.stderr}")
            done = self.run("apply", "--auto-approve", "--lock-timeout", "0s")
        if done.returncode != 0:
            problems.append(f"next apply failed ({done.returncode}): {done.stdout}{done.stderr}")
            return how, problems
        empty, output = self.plan_is_empty()
        if not empty:
            problems.append(f"second plan is not empty: {output}")
        dead = self.serving()
        if dead:
            problems.append(f"applications not forwarding after convergence: {dead}")
        return how, problems


def pg_backend(conn_str: str, schema: str) -> str:
    return f"""
l4plan {{
  backend "pg" {{
    conn_str    = "{conn_str}"
    schema_name = "{schema}"
  }}
}}
"""


def state_problems(stack: Stack, local: bool) -> list[str]:
    """The state (and for the local backend its backup) must load; read in this
    process through the backend, as `state pull` would, without a CLI start-up."""
    from l4plan.configs.model import BackendConfig
    from l4plan.states.backends import backend_from_config
    from l4plan.states.codec import load_state_json
    from l4plan.states.errors import StateError

    problems = []
    config = (
        BackendConfig("pg", {"conn_str": stack.pg[0], "schema_name": stack.pg[1]})
        if stack.pg
        else BackendConfig("local", {})
    )
    try:
        backend = backend_from_config(config, workdir=stack.workdir, environ={})
        try:
            backend.read()
        finally:
            backend.close()
    except StateError as e:
        problems.append(f"state does not load: {e}")
    if local:
        for name in ("l4plan.tfstate.json", "l4plan.tfstate.json.backup"):
            path = stack.workdir / name
            if path.exists():
                try:
                    load_state_json(path.read_text(), source=name)
                except (StateError, UnicodeDecodeError) as e:
                    problems.append(f"{name}: {e}")
                if path.stat().st_mode & 0o777 != 0o600:
                    problems.append(f"{name} has mode {oct(path.stat().st_mode & 0o777)}")
    return problems
