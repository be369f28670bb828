"""`l4plan-agent --check` (the unit's ExecStartPre=) on a node where something is wrong:
each problem is named (the flag and its value, or the file), the exit code is the one
the real start (ExecStart=) exits with for the same problem — the start runs the same
checks — and no traceback or token ever shows."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.service.conftest import Node, make_certificate


def writable(path: Path) -> Path:
    path.chmod(0o600)
    return path


def bad_control(node: Node) -> list[str]:
    node.control = "127.0.0.1:99999"
    return ["--control", "'127.0.0.1:99999' is not HOST:PORT"]


def bad_bind(node: Node) -> list[str]:
    node.listen = "--bind 300.1.2.3"
    return ["--bind", "'300.1.2.3' is not an IP address"]


def two_ipv4_binds(node: Node) -> list[str]:
    node.listen = "--bind 127.0.0.1 --bind 127.0.0.2"
    return ["--bind: more than one ipv4 address"]


def missing_token(node: Node) -> list[str]:
    (node.credentials / "token").unlink()
    return [f"--token-file {node.credentials / 'token'}: No such file or directory"]


def empty_token(node: Node) -> list[str]:
    writable(node.credentials / "token").write_text(" \n")
    return [f"--token-file {node.credentials / 'token'} is empty"]


def token_is_a_directory(node: Node) -> list[str]:
    (node.credentials / "token").unlink()
    (node.credentials / "token").mkdir()
    return [f"--token-file {node.credentials / 'token'}: Is a directory"]


def token_file_without_end(node: Node) -> list[str]:
    # a wrong path to something endless is refused after a bounded read, not read forever
    (node.credentials / "token").unlink()
    (node.credentials / "token").symlink_to("/dev/zero")
    return [f"--token-file {node.credentials / 'token'} is larger than 64 KiB"]


def unbalanced_control_brackets(node: Node) -> list[str]:
    node.control = "[::1"
    return ["--control", "'[::1' is not HOST:PORT"]


def state_root_is_a_file(node: Node) -> list[str]:
    # as root no permission bit stops a write: a path under a file does
    shutil.rmtree(node.state_root)
    node.state_root.write_text("not a directory\n")
    return [f"cannot use state directory {node.state_dir}: it is under {node.state_root}, a file"]


def corrupt_config(node: Node) -> list[str]:
    (node.state_dir / "config.json").write_text('{"format": 1, "revision": ')
    return [f"{node.state_dir / 'config.json'} is not valid JSON"]


def garbage_certificate(node: Node) -> list[str]:
    writable(node.credentials / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n")
    return [f"cannot load the TLS certificate {node.credentials / 'tls.crt'} / key"]


def key_of_another_certificate(node: Node) -> list[str]:
    _, other_key = make_certificate(node.root, "other")
    os.replace(other_key, writable(node.credentials / "tls.key"))
    return [f"key {node.credentials / 'tls.key'}", "key values mismatch"]


def encrypted_key(node: Node) -> list[str]:
    key, locked = writable(node.credentials / "tls.key"), node.root / "locked.key"
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-out", str(locked), "-aes256", "-passout", "pass:x"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    os.replace(locked, key)
    return [f"key {key}", "the key is encrypted"]


def fast_path_on_without_nft(node: Node) -> list[str]:
    # refused before the table would be made: the host's nftables stay untouched
    node.site = {"L4PLAN_AGENT_FAST_PATH": "on", "PATH": str(node.root / "no-tools")}
    return ["--fast-path on: nft (nftables) is not installed or not on PATH"]


CASES: dict[str, tuple[Callable[[Node], list[str]], int]] = {
    "bad control address": (bad_control, 2),
    "bad bind address": (bad_bind, 2),
    "two IPv4 bind addresses": (two_ipv4_binds, 2),
    "missing token file": (missing_token, 2),
    "empty token file": (empty_token, 2),
    "token file is a directory": (token_is_a_directory, 2),
    "token file without end": (token_file_without_end, 2),
    "control address with unbalanced brackets": (unbalanced_control_brackets, 2),
    "state directory under a file": (state_root_is_a_file, 1),
    "corrupt persisted configuration": (corrupt_config, 1),
    "certificate is not PEM": (garbage_certificate, 1),
    "key does not match the certificate": (key_of_another_certificate, 1),
    "encrypted key": (encrypted_key, 1),
    "fast path on without nft": (fast_path_on_without_nft, 1),
}


@pytest.mark.parametrize("case", CASES)
def test_a_problem_is_named_by_the_check_and_by_the_start(node: Node, case: str) -> None:
    breaks, code = CASES[case]
    expected = breaks(node)
    for key in ("ExecStartPre", "ExecStart"):
        run = node.run(key)
        assert run.returncode == code, (key, run.stdout, run.stderr)
        for fragment in expected:
            assert fragment in run.stderr, (key, run.stderr)
        output = run.stdout + run.stderr
        assert "Traceback" not in output and node.token not in output
        assert "configuration OK" not in output


def test_every_problem_is_named_at_once(node: Node) -> None:
    """A value no flag can take stops the parse (usage, as any command line's); every
    other problem is found and named in one run."""
    expected = [
        *missing_token(node),
        *garbage_certificate(node),
        *state_root_is_a_file(node),
        *two_ipv4_binds(node),
    ]
    run = node.run("ExecStartPre")
    assert run.returncode == 2, run.stderr  # a flag problem: as the start would exit
    lines = run.stderr.splitlines()
    assert len(lines) == 4, lines
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, lines)
    assert all(line.startswith("l4plan-agent: error: ") for line in lines)
