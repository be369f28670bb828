"""The built-in functions of the configuration language (docs/configuration.md lists them).

Each function declares how many arguments it takes. Unless it is marked
`partial`, a call with any argument that is not wholly known returns UNKNOWN
without running; `partial` functions (length, concat, merge, ...) can answer
while list elements or map values are still unknown. `can` and `try` are special
forms handled by the evaluator, because they must catch errors of their argument.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l4plan.configs.expressions import (
    TYPE_ERROR,
    Context,
    EvalError,
    hcl_equal,
    plain,
    to_bool,
    to_number,
    to_string,
    type_name,
)
from l4plan.configs.model import UNKNOWN, is_wholly_known
from l4plan.configs.numbers import check_range, normalize_number
from l4plan.configs.syntax import Call

MAX_RANGE = 1_000_000


class FunctionError(Exception):
    """A bad argument: the message says which and why."""


@dataclass(slots=True, frozen=True)
class Function:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    signature: str
    partial: bool = False  # may run with unknown elements inside its arguments
    needs_context: bool = False

    def call(self, node: Call, args: list[Any], ctx: Context) -> Any:
        n = len(args)
        if n < self.min_args or (self.max_args is not None and n > self.max_args):
            raise EvalError(
                TYPE_ERROR,
                f"{self.name}() takes {self._arity()}, got {n}; usage: {self.signature}",
                node.pos,
                f"{self.name}()",
            )
        if self.partial:
            if any(a is UNKNOWN for a in args):
                return UNKNOWN
        elif not all(is_wholly_known(a) for a in args):
            return UNKNOWN
        subject = f"{self.name}()"
        try:
            result = self.impl(ctx, *args) if self.needs_context else self.impl(*args)
            check_range(result)
        except (FunctionError, ValueError, OverflowError) as e:
            raise EvalError(TYPE_ERROR, f"{subject}: {e}", node.pos, subject) from None
        return result

    def _arity(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


FUNCTIONS: dict[str, Function] = {}


def _register(
    signature: str,
    min_args: int,
    max_args: int | None,
    *,
    partial: bool = False,
    needs_context: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    name = signature.partition("(")[0]

    def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(
            name, impl, min_args, max_args, signature, partial, needs_context
        )
        return impl

    return wrap


# ---- argument helpers


def _list(value: Any, what: str = "argument") -> list[Any]:
    if isinstance(value, list):
        return value
    raise FunctionError(f"{what} must be a list, got {type_name(value)}")


def _map(value: Any, what: str = "argument") -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise FunctionError(f"{what} must be a map or object, got {type_name(value)}")


def _str(value: Any, what: str = "argument") -> str:
    if value is None or isinstance(value, list | dict):
        raise FunctionError(f"{what} must be a string, got {type_name(value)}")
    return to_string(value)


def _int(value: Any, what: str = "argument") -> int:
    number = to_number(value)
    if not isinstance(number, int) and not (isinstance(number, float) and number.is_integer()):
        raise FunctionError(f"{what} must be a whole number, got {number}")
    return int(number)


# ---- collections


@_register("length(value)", 1, 1, partial=True)
def _length(value: Any) -> int:
    if isinstance(value, list | dict | str):
        return len(value)
    raise FunctionError(f"needs a list, map or string, got {type_name(value)}")


@_register("concat(list, ...)", 1, None, partial=True)
def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(lists, 1):
        out.extend(_list(item, f"argument {i}"))
    return out


@_register("merge(map, ...)", 1, None, partial=True)
def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(maps, 1):
        if item is None:
            continue
        out.update(_map(item, f"argument {i}"))
    return out


@_register("lookup(map, key, default?)", 2, 3, partial=True)
def _lookup(m: Any, key: Any, *default: Any) -> Any:
    if key is UNKNOWN:
        return UNKNOWN
    k = _str(key, "the key")
    mapping = _map(m, "the first argument")
    if k in mapping:
        return mapping[k]
    if default:
        return default[0]
    raise FunctionError(f'the map has no key "{k}" and no default was given')


@_register("keys(map)", 1, 1, partial=True)
def _keys(m: Any) -> list[str]:
    return sorted(_map(m))


@_register("values(map)", 1, 1, partial=True)
def _values(m: Any) -> list[Any]:
    mapping = _map(m)
    return [mapping[k] for k in sorted(mapping)]


@_register("contains(list, value)", 2, 2)
def _contains(lst: Any, value: Any) -> bool:
    return any(hcl_equal(item, value) for item in _list(lst, "the first argument"))


@_register("distinct(list)", 1, 1)
def _distinct(lst: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(lst):
        if not any(hcl_equal(item, seen) for seen in out):
            out.append(item)
    return out


@_register("flatten(list)", 1, 1)
def _flatten(lst: Any) -> list[Any]:
    out: list[Any] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append(item)

    walk(_list(lst))
    return out


@_register("element(list, index)", 2, 2, partial=True)
def _element(lst: Any, index: Any) -> Any:
    if index is UNKNOWN:
        return UNKNOWN
    items = _list(lst, "the first argument")
    if not items:
        raise FunctionError("cannot take an element of an empty list")
    i = _int(index, "the index")
    if i < 0:
        raise FunctionError("the index must not be negative")
    return items[i % len(items)]


@_register("index(list, value)", 2, 2)
def _index(lst: Any, value: Any) -> int:
    for i, item in enumerate(_list(lst, "the first argument")):
        if hcl_equal(item, value):
            return i
    raise FunctionError("the value is not in the list")


@_register("slice(list, start, end)", 3, 3, partial=True)
def _slice(lst: Any, start: Any, end: Any) -> list[Any]:
    items = _list(lst, "the first argument")
    a, b = _int(start, "start"), _int(end, "end")
    if not 0 <= a <= b <= len(items):
        raise FunctionError(f"start {a} and end {b} must satisfy 0 <= start <= end <= {len(items)}")
    return items[a:b]


@_register("reverse(list)", 1, 1, partial=True)
def _reverse(lst: Any) -> list[Any]:
    return list(reversed(_list(lst)))


@_register("sort(list)", 1, 1)
def _sort(lst: Any) -> list[str]:
    return sorted(_str(item, "each element") for item in _list(lst))


@_register("compact(list)", 1, 1)
def _compact(lst: Any) -> list[Any]:
    return [item for item in _list(lst) if item is not None and item != ""]


@_register("zipmap(keys, values)", 2, 2, partial=True)
def _zipmap(keys: Any, values: Any) -> dict[str, Any]:
    ks, vs = _list(keys, "keys"), _list(values, "values")
    if len(ks) != len(vs):
        raise FunctionError(f"{len(ks)} keys but {len(vs)} values")
    if not is_wholly_known(ks):
        return UNKNOWN  # type: ignore[return-value]
    return {_str(k, "each key"): v for k, v in zip(ks, vs, strict=True)}


@_register("range(start?, limit, step?)", 1, 3)
def _range(*args: Any) -> list[int | float]:
    nums = [to_number(a) for a in args]
    start, step = 0, 1
    if len(nums) == 1:
        (limit,) = nums
    elif len(nums) == 2:
        start, limit = nums
    else:
        start, limit, step = nums
    if step == 0:
        raise FunctionError("step must not be zero")
    count = max(0, math.ceil((limit - start) / step))
    if count > MAX_RANGE:
        raise FunctionError(f"would produce {count} elements; the limit is {MAX_RANGE}")
    return [normalize_number(start + i * step) for i in range(count)]


@_register("toset(list)", 1, 1)
def _toset(lst: Any) -> list[Any]:
    items = _distinct(lst)
    if all(isinstance(i, str) for i in items):
        return sorted(items)
    if all(isinstance(i, int | float) and not isinstance(i, bool) for i in items):
        return sorted(items)
    return items


@_register("tolist(value)", 1, 1, partial=True)
def _tolist(value: Any) -> list[Any]:
    return list(_list(value))


@_register("tomap(value)", 1, 1, partial=True)
def _tomap(value: Any) -> dict[str, Any]:
    return dict(_map(value))


@_register("coalesce(value, ...)", 1, None)
def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise FunctionError("every argument is null or an empty string")


@_register("coalescelist(list, ...)", 1, None)
def _coalescelist(*lists: Any) -> Any:
    for i, value in enumerate(lists, 1):
        if _list(value, f"argument {i}"):
            return value
    return []


@_register("sum(list)", 1, 1)
def _sum(lst: Any) -> int | float:
    items = _list(lst)
    if not items:
        raise FunctionError("cannot sum an empty list")
    return normalize_number(sum(to_number(i) for i in items))


@_register("min(number, ...)", 1, None)
def _min(*nums: Any) -> int | float:
    return min(to_number(n) for n in nums)


@_register("max(number, ...)", 1, None)
def _max(*nums: Any) -> int | float:
    return max(to_number(n) for n in nums)


@_register("abs(number)", 1, 1)
def _abs(n: Any) -> int | float:
    return abs(to_number(n))


@_register("ceil(number)", 1, 1)
def _ceil(n: Any) -> int:
    return math.ceil(to_number(n))


@_register("floor(number)", 1, 1)
def _floor(n: Any) -> int:
    return math.floor(to_number(n))


# ---- strings


@_register("join(separator, list)", 2, 2)
def _join(sep: Any, lst: Any) -> str:
    return _str(sep, "the separator").join(_str(i, "each element") for i in _list(lst, "the list"))


@_register("split(separator, string)", 2, 2)
def _split(sep: Any, s: Any) -> list[str]:
    separator, text = _str(sep, "the separator"), _str(s, "the string")
    if separator == "":
        raise FunctionError("the separator must not be empty")
    return text.split(separator)


@_register("lower(string)", 1, 1)
def _lower(s: Any) -> str:
    return _str(s).lower()


@_register("upper(string)", 1, 1)
def _upper(s: Any) -> str:
    return _str(s).upper()


@_register("trimspace(string)", 1, 1)
def _trimspace(s: Any) -> str:
    return _str(s).strip()


@_register("trim(string, characters)", 2, 2)
def _trim(s: Any, chars: Any) -> str:
    return _str(s).strip(_str(chars, "the characters"))


@_register("trimprefix(string, prefix)", 2, 2)
def _trimprefix(s: Any, prefix: Any) -> str:
    return _str(s).removeprefix(_str(prefix, "the prefix"))


@_register("trimsuffix(string, suffix)", 2, 2)
def _trimsuffix(s: Any, suffix: Any) -> str:
    return _str(s).removesuffix(_str(suffix, "the suffix"))


@_register("startswith(string, prefix)", 2, 2)
def _startswith(s: Any, prefix: Any) -> bool:
    return _str(s).startswith(_str(prefix, "the prefix"))


@_register("endswith(string, suffix)", 2, 2)
def _endswith(s: Any, suffix: Any) -> bool:
    return _str(s).endswith(_str(suffix, "the suffix"))


@_register("substr(string, offset, length)", 3, 3)
def _substr(s: Any, offset: Any, length: Any) -> str:
    text, off, n = _str(s), _int(offset, "offset"), _int(length, "length")
    if off < 0:
        off = max(0, len(text) + off)
    return text[off:] if n < 0 else text[off : off + n]


@_register("replace(string, search, replacement)", 3, 3)
def _replace(s: Any, search: Any, replacement: Any) -> str:
    text, pattern, repl = _str(s), _str(search, "search"), _str(replacement, "replacement")
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            regex = re.compile(pattern[1:-1])
        except re.error as e:
            raise FunctionError(f"invalid regular expression {pattern}: {e}") from None
        # $1 / ${name} in the replacement, as in Terraform
        repl = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl)
        return regex.sub(repl, text)
    return text.replace(pattern, repl)


_FORMAT_VERB = re.compile(
    r"%(?P<flags>[-+ 0#]*)(?P<width>\d+)?(?:\.(?P<prec>\d+))?(?P<verb>[a-zA-Z%])"
)


@_register("format(spec, values...)", 1, None)
def _format(spec: Any, *values: Any) -> str:
    fmt = _str(spec, "the format")
    queue = list(values)

    def take(verb: str) -> Any:
        if not queue:
            raise FunctionError(f'not enough values for "%{verb}" in the format')
        return queue.pop(0)

    def one(m: re.Match[str]) -> str:
        verb, flags = m.group("verb"), m.group("flags")
        width, prec = m.group("width"), m.group("prec")
        if verb == "%":
            return "%"
        value = take(verb)
        pyflags = flags.replace("#", "")
        spec_width = width or ""
        spec_prec = f".{prec}" if prec is not None else ""
        if verb in ("s", "v"):
            if verb == "v" and isinstance(value, list | dict):
                text = json.dumps(plain(value), separators=(",", ":"))
            else:
                text = _str(value, f'the value for "%{verb}"')
            return format(text, f"{'<' if '-' in flags else '>'}{spec_width}{spec_prec}")
        if verb == "q":
            return json.dumps(_str(value, 'the value for "%q"'), ensure_ascii=False)
        if verb == "t":
            return "true" if to_bool(value) else "false"
        number = to_number(value)
        align = "<" if "-" in flags else ""
        sign = "+" if "+" in flags else (" " if " " in flags else "")
        zero = "0" if "0" in pyflags and "-" not in flags else ""
        if verb == "d":
            if not isinstance(number, int):
                raise FunctionError(f'"%d" needs a whole number, got {number}')
            return format(number, f"{align}{sign}{zero}{spec_width}d")
        if verb in ("f", "e", "E", "g", "G"):
            precision = spec_prec or (".6" if verb in "fFeE" else "")
            return format(float(number), f"{align}{sign}{zero}{spec_width}{precision}{verb}")
        if verb in ("x", "X", "o", "b"):
            return format(int(number), f"{align}{zero}{spec_width}{verb}")
        raise FunctionError(f'unsupported verb "%{verb}"; use %s %d %f %e %g %x %o %b %q %t %v %%')

    out = _FORMAT_VERB.sub(one, fmt)
    if queue:
        raise FunctionError(f"{len(queue)} value(s) left over: the format has fewer verbs")
    return out


# ---- conversion and encoding


@_register("tostring(value)", 1, 1)
def _tostring(value: Any) -> str | None:
    if value is None:
        return None
    return _str(value)


@_register("tonumber(value)", 1, 1)
def _tonumber(value: Any) -> int | float | None:
    return None if value is None else to_number(value)


@_register("tobool(value)", 1, 1)
def _tobool(value: Any) -> bool | None:
    return None if value is None else to_bool(value)


@_register("jsonencode(value)", 1, 1)
def _jsonencode(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


@_register("jsondecode(string)", 1, 1)
def _jsondecode(s: Any) -> Any:
    try:
        value = json.loads(_str(s))
    except json.JSONDecodeError as e:
        raise FunctionError(f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    return _normalize_json(value)


def _normalize_json(value: Any) -> Any:
    if isinstance(value, float):
        return normalize_number(value)
    if isinstance(value, list):
        return [_normalize_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize_json(v) for k, v in value.items()}
    return value


@_register("file(path)", 1, 1, needs_context=True)
def _file(ctx: Context, path: Any) -> str:
    name = _str(path, "the path")
    full = Path(name) if Path(name).is_absolute() else ctx.directory / name
    try:
        text = full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FunctionError(
            f'no file "{name}" (paths are relative to the configuration directory)'
        ) from None
    except UnicodeDecodeError:
        raise FunctionError(f'"{name}" is not UTF-8 text') from None
    except OSError as e:
        raise FunctionError(f'cannot read "{name}": {e.strerror}') from None
    ctx.files_read[name] = text
    return text


@_register("sensitive(value)", 1, 1, partial=True)
def _sensitive(value: Any) -> Any:
    return value


@_register("nonsensitive(value)", 1, 1, partial=True)
def _nonsensitive(value: Any) -> Any:
    return value


# ---- networks


@_register("cidrhost(prefix, hostnum)", 2, 2)
def _cidrhost(prefix: Any, hostnum: Any) -> str:
    network = _network(prefix)
    n = _int(hostnum, "hostnum")
    size = network.num_addresses
    if not -size <= n < size:
        raise FunctionError(f"host number {n} does not fit in {network} ({size} addresses)")
    return str(network[n])


@_register("cidrsubnet(prefix, newbits, netnum)", 3, 3)
def _cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    network = _network(prefix)
    bits, num = _int(newbits, "newbits"), _int(netnum, "netnum")
    new_prefix = network.prefixlen + bits
    if bits < 0 or new_prefix > network.max_prefixlen:
        raise FunctionError(f"cannot extend /{network.prefixlen} by {bits} bits")
    if not 0 <= num < 2**bits:
        raise FunctionError(f"netnum {num} does not fit in {bits} bits")
    base = int(network.network_address) + (num << (network.max_prefixlen - new_prefix))
    return str(ipaddress.ip_network((base, new_prefix)))


def _network(prefix: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = _str(prefix, "the prefix")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise FunctionError(f'"{text}" is not a CIDR prefix such as 10.0.0.0/16') from None
