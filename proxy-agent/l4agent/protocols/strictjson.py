"""Strict JSON in and out: every number the agent reads or writes is finite.

Python's `json` accepts `1e400` (it becomes `inf`) and writes `Infinity` and `NaN`,
none of which is JSON. `loads` refuses non-finite numbers and the bare constants;
`dumps` refuses to write them (`allow_nan=False`), so nothing the agent sends or
stores can stop being JSON.

`loads` is also safe to run in a thread beside the event loop on a large body: its
number hooks are Python functions, so the parser gives the GIL back to the loop
between numbers, and the cyclic garbage collector is paused while it runs (a
collection over the millions of objects a large body holds would keep the GIL for
the whole pass).
"""

from __future__ import annotations

import gc
import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


class JsonError(ValueError):
    """The text is not strict JSON; the message says where."""


def _int(text: str) -> int:
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"number {text[:40]} is out of range (not a finite number)")
    return value


def _constant(name: str) -> Any:
    raise JsonError(f"{name} is not valid JSON")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause automatic garbage collection while the block runs (nesting-safe)."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def loads(data: bytes | bytearray | str) -> Any:
    """Decode strict JSON; raises `JsonError` (a ValueError) or UnicodeDecodeError."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    with paused_gc():
        try:
            return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
        except JsonError:
            raise
        except RecursionError:
            raise JsonError("JSON nested too deeply") from None
        except ValueError as e:
            raise JsonError(str(e)) from None


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON; raises ValueError for a non-finite number."""
    return json.dumps(
        value, sort_keys=sort_keys, separators=(",", ":"), allow_nan=False, ensure_ascii=True
    ).encode("utf-8")
