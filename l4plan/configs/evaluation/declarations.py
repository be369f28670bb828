"""Phase 1, declarations: every top-level block of every file, by kind and name.

Input: the parsed files. Output: `Declarations`, the blocks by kind and name
(variables already read into `VariableDecl`s), with L4E000 for unknown blocks,
wrong labels and duplicates. Nothing is evaluated yet except variable types and
defaults, which are literal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from l4plan.configs.hcl.errors import LOAD_ERROR
from l4plan.configs.hcl.sources import SourceFile
from l4plan.configs.hcl.syntax import Attribute, Block, Body
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.values import Context, suggest
from l4plan.configs.model import RESOURCE_TYPES
from l4plan.configs.variables import VariableDecl, declare_variable
from l4plan.diagnostics import Diagnostic, Pos

TOP_LEVEL_BLOCKS = (
    "l4plan",
    "variable",
    "locals",
    "output",
    "agent",
    "resource",
    "moved",
    "import",
)
_LABELS = {
    "l4plan": 0,
    "variable": 1,
    "locals": 0,
    "output": 1,
    "agent": 1,
    "resource": 2,
    "moved": 0,
    "import": 0,
}


@dataclass(slots=True)
class Declarations:
    """The top-level blocks of a configuration, in declaration order."""

    variables: dict[str, VariableDecl] = field(default_factory=dict)
    locals: dict[str, Attribute] = field(default_factory=dict)
    agents: dict[str, Block] = field(default_factory=dict)
    resources: dict[str, Block] = field(default_factory=dict)  # by TYPE.NAME
    outputs: dict[str, Block] = field(default_factory=dict)
    moved: list[Block] = field(default_factory=list)
    imports: list[Block] = field(default_factory=list)
    l4plan: Block | None = None

    def is_expanded(self, key: str) -> bool:
        """Whether resource `key` (TYPE.NAME) sets count or for_each."""
        attrs = self.resources[key].body.attributes
        return "count" in attrs or "for_each" in attrs


def declare(
    files: list[SourceFile], evaluator: Evaluator, directory: Path, diagnostics: list[Diagnostic]
) -> Declarations:
    """Collect the declarations of `files`; problems go to `diagnostics`."""
    collector = _Collector(evaluator, Context(roots={}, directory=directory), diagnostics)
    for source in files:
        collector.declare(source.body)
    return collector.out


class _Collector:
    def __init__(self, evaluator: Evaluator, static_ctx: Context, diagnostics: list[Diagnostic]):
        self.evaluator = evaluator
        self.static_ctx = static_ctx
        self.diagnostics = diagnostics
        self.out = Declarations()

    def _error(self, code: str, message: str, pos: Pos, address: str = "") -> None:
        self.diagnostics.append(Diagnostic.at(code, message, pos, address))

    def declare(self, body: Body) -> None:
        self._check_duplicates(body)
        for attr in body.attributes.values():
            self._error(
                LOAD_ERROR,
                f'unexpected attribute "{attr.name}" outside of any block; top-level '
                f"blocks are {', '.join(TOP_LEVEL_BLOCKS)}",
                attr.pos,
            )
        for block in body.blocks:
            if block.type not in _LABELS:
                self._error(
                    LOAD_ERROR,
                    f'unknown block type "{block.type}"; expected one of '
                    f"{', '.join(TOP_LEVEL_BLOCKS)}" + suggest(block.type, TOP_LEVEL_BLOCKS),
                    block.pos,
                )
                continue
            want = _LABELS[block.type]
            if len(block.labels) != want:
                shape = {0: "no labels", 1: "one label (its name)", 2: "two labels: type and name"}
                example = {
                    "resource": 'resource "l4_application" "game" { ... }',
                    "variable": 'variable "name" { ... }',
                    "output": 'output "name" { ... }',
                    "agent": 'agent "name" { ... }',
                }.get(block.type, f"{block.type} {{ ... }}")
                self._error(
                    LOAD_ERROR,
                    f"a {block.type} block takes {shape[want]}, e.g. {example}",
                    block.pos,
                )
                continue
            getattr(self, f"_declare_{block.type}")(block)

    def _check_duplicates(self, body: Body) -> None:
        for attr, first in body.duplicates:
            self._error(
                LOAD_ERROR,
                f'attribute "{attr.name}" is set twice in one block (first at {first.pos})',
                attr.pos,
            )
        for block in body.blocks:
            self._check_duplicates(block.body)

    def _duplicate(self, what: str, pos: Pos, first: Pos, address: str = "") -> None:
        self._error(LOAD_ERROR, f"duplicate {what}: already declared at {first}", pos, address)

    def _declare_l4plan(self, block: Block) -> None:
        if self.out.l4plan is not None:
            self._duplicate("l4plan block", block.pos, self.out.l4plan.pos)
            return
        self.out.l4plan = block

    def _declare_moved(self, block: Block) -> None:
        self.out.moved.append(block)

    def _declare_import(self, block: Block) -> None:
        self.out.imports.append(block)

    def _declare_variable(self, block: Block) -> None:
        name = block.labels[0]
        if name in self.out.variables:
            self._duplicate(
                f'variable "{name}"', block.pos, self.out.variables[name].pos, f"var.{name}"
            )
            return
        decl, diags = declare_variable(block, self.evaluator, self.static_ctx)
        self.diagnostics.extend(diags)
        self.out.variables[name] = decl

    def _declare_locals(self, block: Block) -> None:
        for sub in block.body.blocks:
            self._error(
                LOAD_ERROR,
                f'a locals block holds only attributes, not blocks ("{sub.type}")',
                sub.pos,
            )
        for name, attr in block.body.attributes.items():
            if name in self.out.locals:
                self._duplicate(
                    f'local value "{name}"', attr.pos, self.out.locals[name].pos, f"local.{name}"
                )
                continue
            self.out.locals[name] = attr

    def _declare_output(self, block: Block) -> None:
        self._declare_named(block, self.out.outputs, "output")

    def _declare_agent(self, block: Block) -> None:
        self._declare_named(block, self.out.agents, "agent")

    def _declare_named(self, block: Block, registry: dict[str, Block], kind: str) -> None:
        name = block.labels[0]
        if name in registry:
            self._duplicate(f'{kind} "{name}"', block.pos, registry[name].pos, f"{kind}.{name}")
            return
        registry[name] = block

    def _declare_resource(self, block: Block) -> None:
        type_, name = block.labels
        if type_ not in RESOURCE_TYPES:
            self._error(
                LOAD_ERROR,
                f'unknown resource type "{type_}"; expected one of {", ".join(RESOURCE_TYPES)}'
                + suggest(type_, RESOURCE_TYPES),
                block.label_pos[0] if block.label_pos else block.pos,
            )
            return
        key = f"{type_}.{name}"
        if key in self.out.resources:
            self._duplicate(
                f'resource "{type_}" "{name}"', block.pos, self.out.resources[key].pos, key
            )
            return
        self.out.resources[key] = block
