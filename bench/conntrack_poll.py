"""What one statistics read of the kernel path costs the agent, against the table's size.

    python -m bench.conntrack_poll [--ended 100000] [--open 1000] [--rules 301] [--rounds 3]

Builds the text `conntrack -L` prints for a busy edge: `--ended` entries in TIME_WAIT
(each short connection leaves one for two minutes) and `--open` ESTABLISHED ones, on
the edge port of one rule among `--rules`. It times the agent's read
(`parse(active_only=True)` and `RulePorts.count`, l4agent/kernel/conntrack.py)
against the peer, the plain way: parse every line, then let each rule scan every
entry for its open ones. Both must count the same; medians of `--rounds` (CPU time).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Hashable

from l4agent.kernel.conntrack import ENDED_STATES, RulePorts, parse

LINE = (
    "tcp      6 117 {state} src=192.0.2.{a} dst=198.51.100.1 sport={sport} dport={dport} "
    "src=203.0.113.7 dst=192.0.2.{a} sport=8080 dport={sport} [ASSURED] mark=0 use=1"
)
PORT = 40001  # the busy rule's edge port; the other rules' lie from 46000


def table(ended: int, open_: int) -> str:
    lines = [
        LINE.format(state=state, a=1 + i % 250, sport=1024 + i % 60000, dport=PORT)
        for n, state in ((ended, "TIME_WAIT"), (open_, "ESTABLISHED"))
        for i in range(n)
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.conntrack_poll")
    parser.add_argument("--ended", type=_at_least(0), default=100_000)
    parser.add_argument("--open", type=_at_least(0), default=1000)
    parser.add_argument("--rules", type=_at_least(1), default=301)
    parser.add_argument("--rounds", type=_at_least(1), default=3)
    args = parser.parse_args()
    text = table(args.ended, args.open)
    rules: list[tuple[Hashable, str, list[tuple[int, int]]]] = [
        (n, "tcp", [(PORT, PORT)] if n == 0 else [(46000 + n, 46000 + n)])
        for n in range(args.rules)
    ]

    def agent() -> dict[Hashable, int]:
        return dict(RulePorts(rules).count(parse(text, active_only=True)))

    def plain() -> dict[Hashable, int]:
        entries = parse(text)
        counts = {
            key: sum(
                1
                for e in entries
                if e.protocol == protocol
                and e.translated
                and any(lo <= e.dport <= hi for lo, hi in ports)
                and e.state not in ENDED_STATES
            )
            for key, protocol, ports in rules
        }
        return {key: n for key, n in counts.items() if n}

    timed: dict[str, float] = {}
    answers: dict[str, dict[Hashable, int]] = {}
    for name, read in (("agent", agent), ("plain parse + scan per rule", plain)):
        timed[name], answers[name] = _median_time(read, args.rounds)
    expected = {0: args.open} if args.open else {}  # only the busy rule has open flows
    if any(answer != expected for answer in answers.values()):
        raise SystemExit(f"a read counted wrong (expected {expected}): {answers}")
    print(f"{args.ended:,} ended + {args.open:,} open entries, {args.rules} rules; "
          f"median of {args.rounds}")  # fmt: skip
    for name, seconds in timed.items():
        times = f"{seconds / timed['agent']:7.1f}x" if timed["agent"] else "      -"
        print(f"  {name:<28} {seconds:8.3f} s  {times} the agent's")


def _at_least(low: int) -> Callable[[str], int]:
    def parse_count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, not {value}")
        return value

    return parse_count


def _median_time(read: Callable[[], dict[Hashable, int]], rounds: int) -> tuple[float, dict]:
    times, answer = [], {}
    for _ in range(rounds):
        started = time.process_time()
        answer = read()
        times.append(time.process_time() - started)
    return statistics.median(times), answer


if __name__ == "__main__":
    main()
