"""Entry point of a worker process (started by the control process; see pool.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from l4agent.cluster.endpoint import run_worker
from l4agent.logs import setup_logging
from l4agent.loop import new_event_loop
from l4agent.settings import RelaySettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="l4agent.cluster.worker_main")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--options", required=True)
    args = parser.parse_args(argv)
    options = json.loads(args.options)
    setup_logging(options["log_format"], options["log_level"], worker=args.index)
    relay = RelaySettings.from_json(options["relay"])
    # Ctrl-C reaches the whole process group: the control process decides when we stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_run(args.fd, relay))


async def _run(fd: int, relay: RelaySettings) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_worker(fd, relay, stop)


if __name__ == "__main__":
    main()
