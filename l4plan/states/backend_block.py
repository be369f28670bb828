"""Finding the backend of a configuration directory without evaluating the configuration.

State commands (`state`, `workspace`, `init`, `output`, `force-unlock`) only need the
`l4plan { backend "TYPE" { ... } }` block. As in Terraform, backend options are
literal values (no variables or expressions), so this reads that one block straight
from the syntax tree: unrelated errors elsewhere in the configuration, or missing
variable values, do not stop a state command.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
from lark import Tree
from lark.exceptions import LarkError, UnexpectedInput

from l4plan.configs.model import BackendConfig
from l4plan.diagnostics import Pos
from l4plan.states.errors import StateError

_HAS_L4PLAN_BLOCK = re.compile(r"(?m)^\s*l4plan\s*\{")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def configuration_files(workdir: Path) -> list[Path]:
    return sorted(p for p in workdir.glob("*.hcl") if p.is_file())


def read_backend_config(workdir: Path) -> BackendConfig:
    """The configured backend; the default local one when no file declares a backend."""
    found: BackendConfig | None = None
    for path in configuration_files(workdir):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise StateError(f"cannot read {path.name}: {e}") from None
        if not _HAS_L4PLAN_BLOCK.search(text):
            continue
        for backend in _backends_in(path.name, text):
            if found is not None:
                raise StateError(
                    f"{backend.pos}: a second backend block (the first is at {found.pos}); "
                    "a configuration has one backend"
                )
            found = backend
    return found or BackendConfig()


def _backends_in(name: str, text: str) -> list[BackendConfig]:
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as e:
        raise StateError(
            f"{name}:{e.line}:{e.column}: syntax error; run `l4plan validate` for details"
        ) from None
    except LarkError as e:
        raise StateError(f"{name}: syntax error ({e})") from None
    found = []
    for block in _blocks(tree.children[0], "l4plan"):
        for backend in _blocks(_body(block), "backend"):
            labels = [c for c in backend.children if isinstance(c, Tree) and c.data == "string"]
            pos = _pos(name, backend)
            if len(labels) != 1:
                raise StateError(f'{pos}: write the backend block as backend "TYPE" {{ ... }}')
            found.append(
                BackendConfig(
                    type=_string(labels[0], name),
                    options=_attributes(_body(backend), name),
                    pos=pos,
                )
            )
    return found


def _blocks(body: Tree | None, kind: str) -> list[Tree]:
    if body is None:
        return []
    return [
        c
        for c in body.children
        if isinstance(c, Tree) and c.data == "block" and _identifier(c.children[0]) == kind
    ]


def _body(block: Tree) -> Tree | None:
    return next((c for c in block.children if isinstance(c, Tree) and c.data == "body"), None)


def _identifier(node: Any) -> str | None:
    if isinstance(node, Tree) and node.data == "identifier":
        return str(node.children[0])
    return None


def _attributes(body: Tree | None, name: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if body is None:
        return options
    for child in body.children:
        if not isinstance(child, Tree):
            continue
        pos = _pos(name, child)
        if child.data == "block":
            raise StateError(f"{pos}: a backend block takes attributes only, not blocks")
        if child.data != "attribute":
            continue
        key = _identifier(child.children[0])
        if key is None:
            continue
        if key in options:
            raise StateError(f'{pos}: the backend option "{key}" is set twice')
        options[key] = _literal(child.children[-1], name, key, pos)
    return options


def _literal(node: Any, name: str, key: str, pos: Pos) -> Any:
    if isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
        inner = node.children[0]
        if isinstance(inner, Tree) and inner.data == "string":
            return _string(inner, name)
        if isinstance(inner, Tree) and inner.data in ("int_lit", "float_lit"):
            text = "".join(str(t) for t in inner.children)
            return float(text) if inner.data == "float_lit" else int(text)
        if isinstance(inner, Tree) and inner.data == "literal_value":
            value = str(inner.children[0])
            return {"true": True, "false": False, "null": None}.get(value, value)
    raise StateError(
        f'{pos}: the backend option "{key}" must be a literal value; backend settings '
        "cannot use variables or expressions (put secrets in L4PLAN_PG_CONN_STR)"
    )


def _string(node: Tree, name: str) -> str:
    parts = []
    for child in node.children:
        if not (isinstance(child, Tree) and child.data == "string_part"):
            continue  # the quote tokens
        part = child.children[0]
        if isinstance(part, Tree):
            raise StateError(
                f"{_pos(name, child)}: backend settings cannot use ${{...}} interpolation"
            )
        parts.append(_unescape(str(part)))
    return "".join(parts)


def _unescape(text: str) -> str:
    text = text.replace("$${", "${").replace("%%{", "%{")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _pos(name: str, node: Tree) -> Pos:
    meta = node.meta
    return Pos(name, getattr(meta, "line", 0), getattr(meta, "column", 0))
