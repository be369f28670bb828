"""Secrets (issue 16, item 5).

A sentinel token is the agent's --token-file and reaches l4plan only through the
sensitive variable `token` (L4PLAN_VAR_token). Every command is run, succeeding and
failing ones, human and --json output; the agent logs at debug level in JSON. Then
every byte printed, every log line and every file written under the test's
directory is searched: the sentinel may only be in state and plan files, and those
must have mode 0600. A second sentinel is sent as a wrong token and must not be
echoed or logged either.
"""

from __future__ import annotations

import secrets
import socket
import traceback
from pathlib import Path

from click.testing import CliRunner

from l4plan.cli.main import cli
from tests.agent.harness import Origins, wait_until
from tests.reliability.figures import report
from tests.reliability.stack import Stack

SENTINEL = f"l4plan-sentinel-{secrets.token_hex(12)}"
WRONG = f"l4plan-wrong-{secrets.token_hex(12)}"
# files that may hold a secret (with mode 0600): state, its backup, saved plans
ALLOWED = (".tfstate.json", ".tfstate.json.backup", ".plan")


def leaks(
    outputs: dict[str, str],
    root: Path,
    inputs: set[Path],
    needle: str,
    allowed: tuple[str, ...] = ALLOWED,
) -> list[str]:
    """Where `needle` appears where it must not (the token files we wrote are inputs;
    files whose names end with `allowed` may hold it, with mode 0600)."""
    found = [f"printed by `{cmd}`" for cmd, text in outputs.items() if needle in text]
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        if path in inputs:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle.encode() not in data:
            continue
        mode = path.stat().st_mode & 0o777
        if not path.name.endswith(allowed):
            found.append(f"written to {path.relative_to(root)} (mode {oct(mode)})")
        elif mode != 0o600:
            found.append(f"{path.relative_to(root)} holds it with mode {oct(mode)}")
    return found


def test_token_never_printed_logged_or_written_outside_state(
    tmp_path: Path, origins: Origins
) -> None:
    stack = Stack(
        tmp_path,
        origins,
        token=SENTINEL,
        agent_flags=(
            "--drain-timeout",
            "0s",
            "--idle-timeout",
            "1s",
            "--log-level",
            "debug",
            "--log-format",
            "json",
        ),
    )
    stack.start()
    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}
    wrong = {"L4PLAN_VAR_token": WRONG}

    def run(
        *args: str, variables: bool = True, env: dict[str, str] | None = None, real: bool = False
    ) -> None:
        """`real`: in a child process (what a shell sees); otherwise in this process
        through click's runner, which captures the same stdout and stderr bytes (the
        CLI configures no logging handler of its own) in a fraction of the time."""
        argv = [*args, *(stack.var_args() if variables else [])]
        key = " ".join(args) + (" (wrong token)" if env else "") + (" [process]" if real else "")
        while key in outputs:  # a command run twice keeps both outputs
            key += " (again)"
        if real:
            done = stack.run(*args, variables=variables, env=env)
            outputs[key], codes[key] = done.stdout + done.stderr, done.returncode
            return
        merged = {**stack.env(), **(env or {})}
        result = CliRunner().invoke(cli, ["-C", str(stack.workdir), *argv], env=merged)
        outputs[key] = (
            result.stdout
            + result.stderr
            + (
                "".join(traceback.format_exception(result.exception))
                if result.exception and not isinstance(result.exception, SystemExit)
                else ""
            )
        )
        codes[key] = result.exit_code

    try:
        run("validate")
        run("validate", "--json")
        run("fmt", "--check", variables=False)
        run("graph")
        run("plan", "--json")
        run("plan", real=True)
        run("plan", "--out", "change.plan")
        run("show", "change.plan", variables=False)
        run("show", "--json", "change.plan", variables=False)
        run("show", "--format", "markdown", "change.plan", variables=False)
        run("apply", "change.plan", variables=False)
        run("apply", "change.plan", variables=False)  # a stale plan: refused
        run("output", variables=False)
        run("output", "--json", variables=False)
        run("state", "list", variables=False)
        run("state", "show", "l4_site.main", variables=False)
        run("state", "show", "l4_site.nope", variables=False)
        run("state", "pull", variables=False)
        run("show", variables=False)
        run("show", "--json", variables=False)
        run("drift", "--json")
        run("plan", "--refresh-only")
        assert codes["apply change.plan"] == 0, outputs["apply change.plan"]
        # a debug log line: a connection left idle past --idle-timeout
        with socket.create_connection(("127.0.0.1", int(stack.apps(0)["app1"]["port"]))):
            assert wait_until(lambda: "idle timeout" in stack.agent.log(), timeout=20)
        stack.variant = 1
        run("apply", "--auto-approve", real=True)
        run("plan", "--detailed-exitcode")
        run("drift")
        run("plan", env=wrong)
        run("plan", "--json", env=wrong, real=True)
        run("apply", "--auto-approve", env=wrong)
        run("drift", "--json", env=wrong)
        run("import", 'l4_application.app["zz"]', "zz.example.com")
        run("force-unlock", "--force", "not-a-lock", variables=False)
        run("version", variables=False)
        # raw calls with the wrong token, and a token-like Basic header
        for header in (f"Bearer {WRONG}", f"Basic {WRONG}", WRONG):
            stack.agent.post(b"{}", {"Authorization": header})
        run("destroy", "--auto-approve")
    finally:
        stack.stop()
    failing = sorted(k for k, c in codes.items() if c not in (0, 2))
    token_file = tmp_path / "agent.token"
    inputs = {token_file}
    found = leaks(outputs, tmp_path, inputs, SENTINEL) + leaks(outputs, tmp_path, inputs, WRONG)
    log = (tmp_path / "agent.log").read_text()
    holders = sorted(
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if p.is_file() and p not in inputs and SENTINEL.encode() in p.read_bytes()
    )
    report(
        "secrets",
        f"{len(outputs)} commands ({len(failing)} failing), {len(log.splitlines())} debug log"
        f" lines, files holding the token: {holders or 'none'}; {len(found)} leaks",
    )
    assert len(failing) >= 6, failing  # the failing commands did fail
    # the in-process runner did capture both streams
    assert "resource_changes" in outputs["plan --json"], outputs["plan --json"]
    assert "UNAUTHENTICATED" in outputs["plan (wrong token)"], outputs["plan (wrong token)"]
    assert '"level": "debug"' in log, "no debug line was logged"
    assert found == [], found


def test_leak_check_reports_what_it_is_for(tmp_path: Path) -> None:
    (tmp_path / "l4plan.tfstate.json").write_text(SENTINEL)
    (tmp_path / "l4plan.tfstate.json").chmod(0o644)
    (tmp_path / "debug.log").write_text(f"token={SENTINEL}\n")
    (tmp_path / "ok.tfstate.json").write_text(SENTINEL)
    (tmp_path / "ok.tfstate.json").chmod(0o600)
    found = leaks({"plan": f"Error: {SENTINEL}", "show": "fine"}, tmp_path, set(), SENTINEL)
    assert found == [
        "printed by `plan`",
        "written to debug.log (mode 0o644)",
        "l4plan.tfstate.json holds it with mode 0o644",
    ]
