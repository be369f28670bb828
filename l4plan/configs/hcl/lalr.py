"""A lean LALR driver for python-hcl2's grammar that builds syntax nodes directly.

lark's own loop builds a generic tree (a `Tree` per rule, a `Token` object per
token) that `syntax.Builder` would then walk again. On a 1,000-application
configuration that is most of the load time. This driver runs the same grammar
with the same tables, taken from lark at start-up: the parse table of
`hcl2.lark`, the contextual lexer's compiled scanners (one per parser state,
keywords resolved exactly as lark's lexer does) and python-hcl2's post-lexer rule
(a newline directly before a binary operator continues the expression). Each
reduction calls a `Builder` method named after the rule, or passes a single
child through for the grammar's `?rule` levels, so the result is the syntax tree
itself.

It accepts exactly what lark accepts, up to a nesting limit: on any input it
cannot parse it returns None and the caller asks lark for the precise error
(tests compare both on valid and invalid inputs); input nested deeper than
`syntax.MAX_NESTING` rule levels is a `SyntaxProblem` at the construct that
crosses the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from l4plan.configs.hcl.syntax import MAX_NESTING, SyntaxProblem

if TYPE_CHECKING:
    from lark import Lark

# A token on the value stack: (type, text, line, column).
Tok = tuple[str, str, int, int]


@dataclass(slots=True)
class Tables:
    # per state: terminal or rule name -> next state (>= 0) or -(rule index + 1)
    actions: list[dict[str, int]]
    # per rule: (number of children, rule name, Builder method name or "" to pass through)
    rules: list[tuple[int, str, str]]
    # the scanners' regular expressions, each once: (pattern, flags)
    patterns: list[tuple[str, int]]
    # per state: its lexer's scanners (indexes into `patterns`) and keyword retyping
    # (NAME "in" -> IN)
    lexers: list[tuple[list[int], dict[str, str] | None]]
    ignore: frozenset[str]
    start: int
    end: int
    # python-hcl2's post-lexer rule: a newline right before these token types
    # continues the expression
    continues: frozenset[str]
    # (state below, top state, token type) -> top state after pass-through reductions
    chains: dict[tuple[int, int, str], int] = field(default_factory=dict)
    # per state: its compiled scanners and retyping, None until the state first lexes.
    # Compiling every pattern up front costs more than parsing a small configuration,
    # which visits a fraction of the states.
    scanners: list[tuple[list[re.Pattern[str]], dict[str, str] | None] | None] = field(
        init=False, repr=False
    )
    _compiled: dict[int, re.Pattern[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.scanners = [None] * len(self.lexers)
        self._compiled = {}

    def scanner(self, state: int) -> tuple[list[re.Pattern[str]], dict[str, str] | None]:
        """The compiled scanners of `state` (compiled now if it has not lexed yet)."""
        ids, retype = self.lexers[state]
        compiled = self._compiled
        mres = []
        for i in ids:
            mre = compiled.get(i)
            if mre is None:
                pattern, flags = self.patterns[i]
                mre = compiled[i] = re.compile(pattern, flags)
            mres.append(mre)
        entry = self.scanners[state] = (mres, retype)
        return entry


def _method_name(origin: str, alias: str | None, expand1: bool, size: int) -> str:
    if alias:
        return alias
    if origin.startswith("__"):  # lark's expansion of a repetition: a list to splice
        return "new_line_or_comment" if "new_line_or_comment" in origin else "repeat"
    if (expand1 or origin.startswith("_")) and size == 1:
        return ""
    return origin


@cache
def tables(lark: Lark) -> Tables:
    """Extract the driver tables from a lark LALR parser built with python-hcl2's grammar."""
    from hcl2.postlexer import OPERATOR_TYPES
    from lark.parsers.lalr_analysis import Shift

    frontend = lark.parser
    parse_table = frontend.parser._parse_table  # type: ignore[attr-defined]
    rule_index: dict[Any, int] = {}
    rules: list[tuple[int, str, str]] = []
    for rule in lark.rules:
        rule_index[rule] = len(rules)
        size = len(rule.expansion)
        name = _method_name(rule.origin.name, rule.alias, rule.options.expand1, size)
        rules.append((size, rule.origin.name, name))
    actions: list[dict[str, int]] = []
    for state in range(len(parse_table.states)):
        row: dict[str, int] = {}
        for symbol, (action, arg) in parse_table.states[state].items():
            row[symbol] = arg if action is Shift else -(rule_index[arg] + 1)
        actions.append(row)
    contextual = frontend.lexer.lexer  # PostLexConnector -> ContextualLexer
    patterns: dict[tuple[str, int], int] = {}
    lexers: list[tuple[list[int], dict[str, str] | None]] = []
    for state in range(len(actions)):
        lexer = contextual.lexers[state]
        scanner = lexer.scanner  # builds lexer.callback
        retype: dict[str, str] | None = None
        for type_, callback in lexer.callback.items():
            assert type_ == "NAME", type_  # the grammar's only callback: keywords inside NAME
            retype = {t.pattern.value: t.name for t in callback.scanner.terminals}
        ids = [patterns.setdefault((m.pattern, m.flags), len(patterns)) for m in scanner._mres]
        lexers.append((ids, retype))
    ignore = frozenset(contextual.root_lexer.ignore_types)
    start = parse_table.start_states["start"]
    end = parse_table.end_states["start"]
    return Tables(
        actions, rules, list(patterns), lexers, ignore, start, end, frozenset(OPERATOR_TYPES)
    )


def to_json(tables_: Tables) -> dict[str, Any]:
    """The tables as JSON data (scanners as their pattern text, each once)."""
    return {
        "actions": tables_.actions,
        "rules": tables_.rules,
        "patterns": tables_.patterns,
        "scanners": tables_.lexers,
        "ignore": sorted(tables_.ignore),
        "start": tables_.start,
        "end": tables_.end,
        "continues": sorted(tables_.continues),
    }


def from_json(data: dict[str, Any]) -> Tables:
    """Tables from `to_json` data; raises KeyError, TypeError or ValueError when malformed."""
    patterns = [(str(pattern), int(flags)) for pattern, flags in data["patterns"]]
    lexers = []
    for ids, retype in data["scanners"]:
        indexes = [int(i) for i in ids]
        if not all(0 <= i < len(patterns) for i in indexes):
            raise ValueError("a scanner names a pattern the tables do not hold")
        lexers.append((indexes, None if retype is None else dict(retype)))
    return Tables(
        [dict(row) for row in data["actions"]],
        [(int(size), str(origin), str(name)) for size, origin, name in data["rules"]],
        patterns,
        lexers,
        frozenset(data["ignore"]),
        int(data["start"]),
        int(data["end"]),
        frozenset(data["continues"]),
    )


# Rules that splice their children into a list or only carry layout: a list of N
# items or N lines is not N levels deep.
_FLAT = frozenset({"repeat", "new_line_or_comment"})


def parse(tables_: Tables, text: str, builder: Any, base_depth: int = 0) -> Any:
    """The value of the `start` rule for `text`, or None when `text` does not parse.

    Every value on the stack carries its nesting depth (`base_depth` for tokens: the
    depth of the construct `text` is nested in, for heredoc interpolations). Before
    each reduction `builder.depth` is set to the depth of the result, so a builder
    that parses nested text passes it on.
    """
    actions = tables_.actions
    scanners = tables_.scanners
    ignore = tables_.ignore
    end_state = tables_.end
    # per rule: (children, rule name, callback or None to pass the single child through)
    rules: list[tuple[int, str, Callable[[list[Any]], Any] | None]] = [
        (size, origin, getattr(builder, name) if name else None)
        for size, origin, name in tables_.rules
    ]
    flat = [name in _FLAT for _, _, name in tables_.rules]
    states = [tables_.start]
    values: list[Any] = []
    depths: list[int] = []
    chains = tables_.chains
    continues = tables_.continues
    text = text + "\n"  # as hcl2.parses_to_tree does: the grammar needs a final newline
    n = len(text)
    pos = 0
    line = 1
    line_start = 0
    pending: Tok | None = None  # a newline that may belong to a following operator
    at_end = False
    while True:
        if pos < n:
            entry = scanners[states[-1]]
            mres, retype = entry if entry is not None else tables_.scanner(states[-1])
            match = None
            for mre in mres:
                match = mre.match(text, pos)
                if match is not None:
                    break
            if match is None:
                return None
            value = match.group()
            type_ = match.lastgroup or ""
            column = pos - line_start + 1
            tok_line = line
            if "\n" in value:
                line += value.count("\n")
                line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            if type_ in ignore:
                continue
            if retype is not None and type_ == "NAME":
                type_ = retype.get(value, type_)
            tok: Tok = (type_, value, tok_line, column)
            if type_ == "NL_OR_COMMENT":
                batch: tuple[Tok, ...] = (pending,) if pending is not None else ()
                pending = tok
            elif pending is None:
                batch = (tok,)
            elif type_ in continues:
                batch = ((type_, pending[1] + value, tok_line, column),)
                pending = None
            else:
                batch = (pending, tok)
                pending = None
        else:
            end: Tok = ("$END", "", line, pos - line_start + 1)
            batch = (pending, end) if pending is not None else (end,)
            pending = None
            at_end = True
        for tok in batch:
            type_ = tok[0]
            while True:
                act = actions[states[-1]].get(type_)
                if act is None:
                    return None
                if act >= 0:
                    states.append(act)
                    values.append(tok)
                    depths.append(base_depth)
                    break
                size, origin, handler = rules[-act - 1]
                if handler is None:
                    # A single child passes through (the grammar's `?rule` levels): only
                    # the top state changes, and a run of such reductions depends only on
                    # (state below, top state, token), so it is computed once.
                    key = (states[-2], states[-1], type_)
                    top = chains.get(key)
                    if top is None:
                        top = chains[key] = _pass_through(actions, rules, *key)
                    states[-1] = top
                    continue
                if size:
                    children = values[-size:]
                    depth = max(depths[-size:])
                    del values[-size:]
                    del depths[-size:]
                    del states[-size:]
                else:
                    children = []
                    depth = base_depth
                if not flat[-act - 1]:
                    depth += 1
                    if depth > MAX_NESTING:
                        raise SyntaxProblem(
                            f"this is nested too deeply: more than {MAX_NESTING} levels of "
                            "brackets, operators, attribute accesses and blocks; "
                            "split it into local values",
                            _first_pos(children, builder, tok),
                        )
                builder.depth = depth
                values.append(handler(children))
                depths.append(depth)
                states.append(actions[states[-1]][origin])
                if type_ == "$END" and states[-1] == end_state:
                    return values[-1] if len(values) == 1 else None
        if at_end:
            return None  # $END was consumed without completing the file


def _pass_through(
    actions: list[dict[str, int]],
    rules: list[tuple[int, str, Any]],
    below: int,
    top: int,
    type_: str,
) -> int:
    """The top state after every pass-through reduction that `type_` triggers on `top`."""
    while True:
        act = actions[top].get(type_)
        if act is None or act >= 0 or rules[-act - 1][2] is not None:
            return top
        top = actions[below][rules[-act - 1][1]]


def _first_pos(children: list[Any], builder: Any, lookahead: Tok) -> Any:
    """The position of the first token under `children`, else of the lookahead token."""
    for child in children:
        if isinstance(child, tuple):
            return builder.pos(child)
        pos = getattr(child, "pos", None)
        if pos is not None:
            return pos
        if isinstance(child, list) and child:
            return _first_pos(child, builder, lookahead)
    return builder.pos(lookahead)
