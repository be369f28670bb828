"""Functions on strings, `format` included."""

from __future__ import annotations

import json
import re
from typing import Any

from l4plan.configs.lang.functions.registry import (
    FunctionError,
    as_int,
    as_list,
    as_str,
    register,
)
from l4plan.configs.lang.values import (
    plain,
    to_bool,
    to_number,
)


@register("join(separator, list)", 2, 2)
def _join(sep: Any, lst: Any) -> str:
    return as_str(sep, "the separator").join(
        as_str(i, "each element") for i in as_list(lst, "the list")
    )


@register("split(separator, string)", 2, 2)
def _split(sep: Any, s: Any) -> list[str]:
    separator, text = as_str(sep, "the separator"), as_str(s, "the string")
    if separator == "":
        raise FunctionError("the separator must not be empty")
    return text.split(separator)


@register("lower(string)", 1, 1)
def _lower(s: Any) -> str:
    return as_str(s).lower()


@register("upper(string)", 1, 1)
def _upper(s: Any) -> str:
    return as_str(s).upper()


@register("trimspace(string)", 1, 1)
def _trimspace(s: Any) -> str:
    return as_str(s).strip()


@register("trim(string, characters)", 2, 2)
def _trim(s: Any, chars: Any) -> str:
    return as_str(s).strip(as_str(chars, "the characters"))


@register("trimprefix(string, prefix)", 2, 2)
def _trimprefix(s: Any, prefix: Any) -> str:
    return as_str(s).removeprefix(as_str(prefix, "the prefix"))


@register("trimsuffix(string, suffix)", 2, 2)
def _trimsuffix(s: Any, suffix: Any) -> str:
    return as_str(s).removesuffix(as_str(suffix, "the suffix"))


@register("startswith(string, prefix)", 2, 2)
def _startswith(s: Any, prefix: Any) -> bool:
    return as_str(s).startswith(as_str(prefix, "the prefix"))


@register("endswith(string, suffix)", 2, 2)
def _endswith(s: Any, suffix: Any) -> bool:
    return as_str(s).endswith(as_str(suffix, "the suffix"))


@register("substr(string, offset, length)", 3, 3)
def _substr(s: Any, offset: Any, length: Any) -> str:
    text, off, n = as_str(s), as_int(offset, "offset"), as_int(length, "length")
    if off < 0:
        off = max(0, len(text) + off)
    return text[off:] if n < 0 else text[off : off + n]


@register("replace(string, search, replacement)", 3, 3)
def _replace(s: Any, search: Any, replacement: Any) -> str:
    text, pattern, repl = as_str(s), as_str(search, "search"), as_str(replacement, "replacement")
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


@register("format(spec, values...)", 1, None)
def _format(spec: Any, *values: Any) -> str:
    fmt = as_str(spec, "the format")
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
                text = as_str(value, f'the value for "%{verb}"')
            return format(text, f"{'<' if '-' in flags else '>'}{spec_width}{spec_prec}")
        if verb == "q":
            return json.dumps(as_str(value, 'the value for "%q"'), ensure_ascii=False)
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
