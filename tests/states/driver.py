"""A small l4plan client for multi-process tests, standing in for `apply` until it exists.

  driver.py --backend JSON --workdir DIR [--workspace W] MODE [options]

Modes:
  apply-once   lock (waiting --lock-timeout), read, add l4_site.main if missing (serial + 1),
               write; prints "changed SERIAL" or "no changes"
  hold         take the lock, print "locked ID", then sleep until killed
  write-loop   write ever-growing states (no lock) until killed, printing "wrote SERIAL"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from l4plan.configs.model import BackendConfig
from l4plan.states import (
    Backend,
    ResourceState,
    StaleStateError,
    State,
    StateError,
    backend_from_config,
)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--backend", required=True)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--workspace", default=None)
    p.add_argument("--lock-timeout", type=float, default=0.0)
    p.add_argument("--hold-for", type=float, default=0.0, help="seconds to keep the lock")
    p.add_argument("mode", choices=["apply-once", "hold", "write-loop"])
    args = p.parse_args()
    raw = json.loads(args.backend)
    backend = backend_from_config(
        BackendConfig(type=raw["type"], options=raw.get("options", {})),
        workdir=args.workdir,
        workspace=args.workspace,
    )
    try:
        if args.mode == "apply-once":
            return apply_once(backend, args.lock_timeout, args.hold_for)
        if args.mode == "hold":
            with backend.lock("driver hold", timeout=args.lock_timeout) as info:
                print(f"locked {info.id}", flush=True)
                time.sleep(3600)
            return 0
        return write_loop(backend)
    except StateError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        backend.close()


def apply_once(backend: Backend, lock_timeout: float, hold_for: float) -> int:
    started = time.monotonic()
    with backend.lock("apply", timeout=lock_timeout):
        waited = time.monotonic() - started
        state = backend.read()
        expected = None if state is None else (state.lineage, state.serial)
        if state is not None and "l4_site.main" in state.resources:
            print(f"no changes waited={waited:.3f}", flush=True)
            return 0
        new = state or State()
        new.resources["l4_site.main"] = ResourceState(
            "l4_site.main", "l4_site", "main", None, {"id": "example.com"}
        )
        new.serial += 1
        time.sleep(hold_for)
        backend.write(new, expected=expected)
        print(f"changed {new.serial} waited={waited:.3f}", flush=True)
    return 0


def write_loop(backend: Backend) -> int:
    state = backend.read()
    expected = None if state is None else (state.lineage, state.serial)
    state = state or State()
    blob = "x" * 4096
    while True:
        i = state.serial
        state.resources[f"l4_site.s{i}"] = ResourceState(
            f"l4_site.s{i}", "l4_site", f"s{i}", None, {"id": f"s{i}", "pad": blob}
        )
        state.serial += 1
        try:
            backend.write(state, expected=expected)
        except StaleStateError as e:
            print(f"stale: {e}", file=sys.stderr, flush=True)
            return 1
        expected = (state.lineage, state.serial)
        print(f"wrote {state.serial}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
