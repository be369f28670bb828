"""Phase 6, `moved` and `import` blocks: addresses and ids, checked as Terraform does.

Input: the blocks (`Declarations.moved`, `Declarations.imports`) and the resources
evaluated before. Output: `Config.moved` and `Config.imports`, with L4E019 (moved)
and L4E020 (import) at the block for anything Terraform would refuse while loading:
an address that is not a resource address, a move between types, a move from an
object the configuration still declares, two blocks that disagree, a chain that
comes back to where it started, an import target that is not configured. What
depends on the state (a destination already recorded, an application no agent runs)
is the plan's to say (docs/plan.md).
"""

from __future__ import annotations

from typing import Any

from l4plan import codes
from l4plan.configs.evaluation.declarations import Declarations
from l4plan.configs.evaluation.expansion import instances_of
from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.hcl.syntax import Block, GetAttr, Index, Literal, Name, Node
from l4plan.configs.lang.values import Context, plain
from l4plan.configs.model import (
    RESOURCE_TYPES,
    UNKNOWN,
    Config,
    ImportBlock,
    MovedBlock,
    instance_key_suffix,
    is_wholly_known,
)
from l4plan.diagnostics import Pos

_FAILED = object()
_IMPORTED_TYPE = "l4_application"  # the one type an agent runs, and so can be imported


def evaluate_moved_import(decls: Declarations, scope: Scope, config: Config) -> None:
    """Fill `config.moved` and `config.imports`; problems go to the scope's diagnostics."""
    moved = [m for m in (_moved(block, scope) for block in decls.moved) if m is not None]
    config.moved = _checked_moves(moved, decls, scope, config)
    targets: dict[str, ImportBlock] = {}
    for block in decls.imports:
        for target in _import_targets(block, scope, decls, config):
            first = targets.get(target.to_address)
            if first is not None:
                scope.error(
                    codes.IMPORT_BLOCK,
                    f"Duplicate import configuration for {target.to_address}: it is already "
                    f"imported by the block at {first.pos}; keep one import block per resource",
                    target.pos,
                )
                continue
            targets[target.to_address] = target
    config.imports = list(targets.values())


def import_target_problem(config: Config, address: str, name: str) -> str | None:
    """Why application `name` cannot be imported as `address` of `config`, or None.
    Both forms of import (`l4plan import` and the `import` block) say it so."""
    res = config.resources.get(address)
    if res is None or res.type != _IMPORTED_TYPE:
        return (
            f"{address} is not an l4_application in the configuration; add its resource "
            "block first, then import it"
        )
    if res.attrs.get("id") != name:
        return (
            f'{address} is configured with domain "{res.attrs.get("id")}", not "{name}"; '
            "import the application under the name the configuration gives it"
        )
    return None


# --------------------------------------------------------------------------- moved


def _moved(block: Block, scope: Scope) -> MovedBlock | None:
    if not _only(block, ("from", "to"), codes.MOVED_BLOCK, scope):
        return None
    ends = []
    for side in ("from", "to"):
        attr = block.body.attributes[side]
        address = _address(attr.expr, scope, None, codes.MOVED_BLOCK, side)
        if address is None:
            return None
        ends.append(address)
    (from_type, from_address), (to_type, to_address) = ends
    if from_type != to_type:
        scope.error(
            codes.MOVED_BLOCK,
            f"Resource type mismatch: this statement declares a move from {from_address} to "
            f"{to_address}, a resource of a different type; a resource keeps its type",
            block.pos,
        )
        return None
    if from_address == to_address:
        scope.error(
            codes.MOVED_BLOCK,
            f"Redundant move statement: this statement declares a move from {from_address} "
            "to the same address, so it has no effect; remove it",
            block.pos,
        )
        return None
    return MovedBlock(from_address, to_address, block.pos)


def _checked_moves(
    moved: list[MovedBlock], decls: Declarations, scope: Scope, config: Config
) -> list[MovedBlock]:
    """The moves Terraform would accept: none from a declared object, no two that
    disagree, no chain that is a cycle."""
    kept: list[MovedBlock] = []
    by_from: dict[str, MovedBlock] = {}
    by_to: dict[str, MovedBlock] = {}
    for m in moved:
        declared = _declaration(m, decls, config)
        if declared is not None:
            scope.error(
                codes.MOVED_BLOCK,
                f"Moved object still exists: this statement declares a move from "
                f"{m.from_address}, but that resource is still declared at {declared}; "
                f"change the configuration so that it is declared as {m.to_address} instead",
                m.pos,
            )
            continue
        other = by_from.get(m.from_address)
        if other is not None and other.to_address != m.to_address:
            scope.error(
                codes.MOVED_BLOCK,
                f"Ambiguous move statements: the statement at {other.pos} declared that "
                f"{m.from_address} moved to {other.to_address}, but this statement instead "
                f"declares that it moved to {m.to_address}",
                m.pos,
            )
            continue
        other = by_to.get(m.to_address)
        if other is not None and other.from_address != m.from_address:
            scope.error(
                codes.MOVED_BLOCK,
                f"Ambiguous move statements: the statement at {other.pos} declared that "
                f"{other.from_address} moved to {m.to_address}, but this statement instead "
                f"declares that {m.from_address} moved there",
                m.pos,
            )
            continue
        if other is not None:
            continue  # the same move twice
        by_from[m.from_address] = by_to[m.to_address] = m
        kept.append(m)
    cycle = _cycle(kept)
    if cycle:
        steps = "; ".join(f"{m.pos}: {m.from_address} → {m.to_address}" for m in cycle)
        scope.error(
            codes.MOVED_BLOCK,
            "Cyclic dependency in move statements: these chained move statements form a "
            f"cycle, so there is no final location to move objects to: {steps}",
            cycle[0].pos,
        )
        return []
    return kept


def _declaration(m: MovedBlock, decls: Declarations, config: Config) -> Pos | None:
    """Where the configuration still declares the object `m` moves away from."""
    resource = m.from_address.split("[", 1)[0]
    block = decls.resources.get(resource)
    if block is None:
        return None
    if "[" in m.from_address or "[" in m.to_address:
        # an instance (the resource's no-key instance when only `to` has a key)
        return block.pos if m.from_address in config.resources else None
    return block.pos


def _cycle(moved: list[MovedBlock]) -> list[MovedBlock]:
    """The statements of a chain that returns to its start (empty when none does),
    chained as `MovedBlock.feeds` says: a move to a resource feeds a move from one of
    its instances, and the other way round."""
    done: set[int] = set()
    path: list[MovedBlock] = []

    def visit(m: MovedBlock) -> list[MovedBlock]:
        for i, on_path in enumerate(path):
            if on_path is m:
                return path[i:]
        if id(m) in done:
            return []
        path.append(m)
        for then in moved:
            if then is not m and m.feeds(then) and (cycle := visit(then)):
                return cycle
        path.pop()
        done.add(id(m))
        return []

    for start in moved:
        if cycle := visit(start):
            return cycle
    return []


# --------------------------------------------------------------------------- import


def _import_targets(
    block: Block, scope: Scope, decls: Declarations, config: Config
) -> list[ImportBlock]:
    if not _only(block, ("to", "id", "for_each"), codes.IMPORT_BLOCK, scope):
        return []
    body = block.body.attributes
    expansion = instances_of(scope, "import", block)
    if expansion is None:
        return []
    targets = []
    for _, extra in expansion[1]:
        ctx = scope.ctx(extra)
        address = _address(body["to"].expr, scope, ctx, codes.IMPORT_BLOCK, "to")
        if address is None:
            continue
        type_, to_address = address
        if type_ != _IMPORTED_TYPE:
            scope.error(
                codes.IMPORT_BLOCK,
                f"{to_address} cannot be imported: only an l4_application runs on the agents, "
                "so only an l4_application can be imported",
                body["to"].expr.pos,
            )
            continue
        name = scope.eval(body["id"].expr, ctx, to_address, failed=_FAILED)
        if name is _FAILED:
            continue
        if not isinstance(name, str) or not name:
            what = "a value known only after apply" if not is_wholly_known(name) else "not a string"
            scope.error(
                codes.IMPORT_BLOCK,
                f"the import id of {to_address} must be the application's domain, a string "
                f"known at plan time ({what})",
                body["id"].expr.pos,
            )
            continue
        problem = _target_problem(to_address, name, decls, scope, config)
        if problem:
            scope.error(codes.IMPORT_BLOCK, problem, body["to"].expr.pos)
            continue
        targets.append(ImportBlock(to_address, name, block.pos))
    return targets


def _target_problem(
    address: str, name: str, decls: Declarations, scope: Scope, config: Config
) -> str | None:
    resource = address.split("[", 1)[0]
    if resource not in decls.resources:
        return (
            f"Configuration for import target does not exist: the configuration for {address} "
            'does not exist; add a resource "l4_application" block for it'
        )
    type_, name_ = resource.split(".", 1)
    if scope.resources.get(type_, {}).get(name_) is UNKNOWN:
        return None  # the resource itself failed to evaluate, and said why
    if address not in config.resources:
        instances = scope.instances.get(resource) or []
        which = f"its instances are {', '.join(instances)}" if instances else "it has none"
        return (
            f"Configuration for import target does not exist: {resource} has no instance "
            f"{address} ({which})"
        )
    return import_target_problem(config, address, name)


# --------------------------------------------------------------------------- shared


def _only(block: Block, allowed: tuple[str, ...], code: str, scope: Scope) -> bool:
    """Whether `block` sets only `allowed` attributes and every required one (all
    but for_each), and holds no block."""
    ok = True
    kind = f"an {block.type} block" if block.type == "import" else f"a {block.type} block"
    for sub in block.body.blocks:
        scope.error(code, f'{kind} holds no blocks ("{sub.type}")', sub.pos)
        ok = False
    for name, attr in block.body.attributes.items():
        if name not in allowed:
            scope.error(
                code,
                f'{kind} has no attribute "{name}"; it takes ' + ", ".join(allowed),
                attr.pos,
            )
            ok = False
    for name in allowed:
        if name != "for_each" and name not in block.body.attributes:
            scope.error(code, f'{kind} needs "{name}"', block.pos)
            ok = False
    return ok


def _address(
    expr: Node, scope: Scope, ctx: Context | None, code: str, side: str
) -> tuple[str, str] | None:
    """(type, instance address) of a reference to a resource (`TYPE.NAME`) or one of
    its instances (`TYPE.NAME[KEY]`). Without `ctx` the key must be a literal."""
    key: Any = None
    target = expr
    if isinstance(expr, Index):
        target = expr.obj
        if ctx is None:
            key = expr.key.value if isinstance(expr.key, Literal) else None
        else:
            key = scope.eval(expr.key, ctx, failed=_FAILED)
            if key is _FAILED:
                return None  # the expression's own error was reported
            key = plain(key)
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if (
            isinstance(key, bool)
            or not isinstance(key, int | str)
            or (isinstance(key, int) and key < 0)
        ):
            scope.error(
                code,
                f"{side}: an instance key is a whole number or a string"
                + (" written as a literal" if ctx is None else " known at plan time"),
                expr.key.pos,
            )
            return None
    if (
        isinstance(target, GetAttr)
        and isinstance(target.obj, Name)
        and target.obj.name in RESOURCE_TYPES
    ):
        type_ = target.obj.name
        return type_, f"{type_}.{target.name}{instance_key_suffix(key)}"
    scope.error(
        code,
        f"{side} must be a resource address, such as l4_application.game, "
        'l4_application.game[0] or l4_application.game["eu"]',
        expr.pos,
    )
    return None
