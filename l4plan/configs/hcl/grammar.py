"""python-hcl2's grammar, as l4plan parses it, and lark's LALR parser built from it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import hcl2
from hcl2.postlexer import PostLexer
from lark import Lark

# python-hcl2's grammar lacks HCL's strip markers in interpolations (`${~ x ~}`);
# its directives have them. The one rule is extended the same way.
_INTERPOLATION_RULE = "interpolation: INTERP_START expression RBRACE"
_INTERPOLATION_WITH_STRIP = (
    "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE"
)


def grammar() -> str:
    """python-hcl2's `hcl2.lark`, with strip markers allowed in interpolations."""
    text = (Path(hcl2.__file__).parent / "hcl2.lark").read_text(encoding="utf-8")
    if _INTERPOLATION_RULE not in text:
        raise RuntimeError(f"hcl2.lark has no rule {_INTERPOLATION_RULE!r} to extend")
    return text.replace(_INTERPOLATION_RULE, _INTERPOLATION_WITH_STRIP)


@cache
def parser() -> Lark:
    return Lark(
        grammar(),
        parser="lalr",
        propagate_positions=False,
        postlex=PostLexer(),
        cache=True,
    )


@cache
def layout_parser() -> Lark:
    """The same grammar with node positions, for `fmt`, which copies source spans."""
    return Lark(
        grammar(),
        parser="lalr",
        propagate_positions=True,
        postlex=PostLexer(),
        cache=True,
    )
