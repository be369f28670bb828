"""HCL loading and evaluation fuzzed with programs generated from the grammar.

`expressions()` builds an HCL expression together with the value the language
defines for it (arithmetic, comparison, logic, conditionals, templates, lists, maps,
`for` expressions, indexing, splats and functions), so the evaluator is checked
against an independent model, not only for not crashing. `applications()` builds
whole configurations (site, applications with disjoint random port expressions,
variables, locals, for_each) that must validate clean and evaluate to what was
written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l4plan.configs.validate import check
from tests.reliability import oracles
from tests.reliability.figures import report, trials

EXAMPLES = trials("L4PLAN_FUZZ_EXAMPLES", 100, 5000)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

Expr = tuple[str, Any]  # (HCL text, its value)

WORD = st.text("abcxyz_-", min_size=0, max_size=6)
INTS: st.SearchStrategy[Expr] = st.integers(-1000, 1000).map(
    lambda n: (f"({n})" if n < 0 else str(n), n)
)
STRINGS: st.SearchStrategy[Expr] = WORD.map(lambda s: (json.dumps(s), s))
BOOLS: st.SearchStrategy[Expr] = st.booleans().map(lambda b: ("true" if b else "false", b))


def ints(depth: int = 2) -> st.SearchStrategy[Expr]:
    if depth == 0:
        return INTS
    inner = ints(depth - 1)
    return st.one_of(
        INTS,
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
            lambda t: (
                f"({t[0][0]} {t[1]} {t[2][0]})",
                {"+": t[0][1] + t[2][1], "-": t[0][1] - t[2][1], "*": t[0][1] * t[2][1]}[t[1]],
            )
        ),
        st.tuples(bools(depth - 1), inner, inner).map(
            lambda t: (f"({t[0][0]} ? {t[1][0]} : {t[2][0]})", t[1][1] if t[0][1] else t[2][1])
        ),
        lists(depth - 1).map(lambda e: (f"length({e[0]})", len(e[1]))),
        st.lists(inner, min_size=1, max_size=4).map(
            lambda xs: (f"max({', '.join(x[0] for x in xs)})", max(x[1] for x in xs))
        ),
        st.tuples(lists(depth - 1), st.integers(0, 5))
        .filter(lambda t: t[0][1])
        .map(lambda t: (f"({t[0][0]})[{t[1] % len(t[0][1])}]", t[0][1][t[1] % len(t[0][1])])),
        strings(depth - 1).map(lambda e: (f"length({e[0]})", len(e[1]))),
        inner.map(lambda e: ('"${' + e[0] + '}"', e[1])),
    )


def strings(depth: int = 2) -> st.SearchStrategy[Expr]:
    if depth == 0:
        return STRINGS
    return st.one_of(
        STRINGS,
        # text around the interpolation: "${x}" alone is x itself, not a string (HCL)
        # (WORD needs no escaping; the interpolation's expression is HCL, not string text)
        st.tuples(WORD, ints(depth - 1), WORD).map(
            lambda t: ('"t' + t[0] + "${" + t[1][0] + "}" + t[2] + '"', f"t{t[0]}{t[1][1]}{t[2]}")
        ),
        strings(depth - 1).map(lambda e: (f"upper({e[0]})", e[1].upper())),
        strings(depth - 1).map(lambda e: (f"lower({e[0]})", e[1].lower())),
        st.lists(strings(depth - 1), max_size=3).map(
            lambda xs: (
                f'join(",", [{", ".join(x[0] for x in xs)}])',
                ",".join(x[1] for x in xs),
            )
        ),
        ints(depth - 1).map(lambda e: (f"tostring({e[0]})", str(e[1]))),
        st.tuples(strings(depth - 1), ints(depth - 1)).map(
            lambda t: (f'format("%s=%d", {t[0][0]}, {t[1][0]})', f"{t[0][1]}={t[1][1]}")
        ),
        st.tuples(bools(depth - 1), strings(depth - 1), strings(depth - 1)).map(
            lambda t: (
                '"%{ if '
                + t[0][0]
                + " }"
                + _tmpl(t[1][1])
                + "%{ else }"
                + _tmpl(t[2][1])
                + '%{ endif }"',
                t[1][1] if t[0][1] else t[2][1],
            )
        ),
    )


def _tmpl(s: str) -> str:
    return json.dumps(s)[1:-1]


def bools(depth: int = 2) -> st.SearchStrategy[Expr]:
    if depth == 0:
        return BOOLS
    i, b = ints(depth - 1), bools(depth - 1)
    ops = {"<": int.__lt__, "<=": int.__le__, "==": int.__eq__, "!=": int.__ne__, ">": int.__gt__}
    return st.one_of(
        BOOLS,
        st.tuples(i, st.sampled_from(sorted(ops)), i).map(
            lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})", ops[t[1]](t[0][1], t[2][1]))
        ),
        st.tuples(b, st.sampled_from(["&&", "||"]), b).map(
            lambda t: (
                f"({t[0][0]} {t[1]} {t[2][0]})",
                (t[0][1] and t[2][1]) if t[1] == "&&" else (t[0][1] or t[2][1]),
            )
        ),
        b.map(lambda e: (f"!({e[0]})", not e[1])),
        st.tuples(lists(depth - 1), INTS).map(
            lambda t: (f"contains({t[0][0]}, {t[1][0]})", t[1][1] in t[0][1])
        ),
    )


def lists(depth: int = 2) -> st.SearchStrategy[Expr]:
    """Lists of numbers."""
    base = st.lists(INTS, max_size=4).map(
        lambda xs: (f"[{', '.join(x[0] for x in xs)}]", [x[1] for x in xs])
    )
    if depth == 0:
        return base
    inner = lists(depth - 1)
    return st.one_of(
        base,
        st.tuples(inner, inner).map(lambda t: (f"concat({t[0][0]}, {t[1][0]})", t[0][1] + t[1][1])),
        st.tuples(inner, ints(depth - 1)).map(
            lambda t: (f"[for x in {t[0][0]} : x * {t[1][0]}]", [x * t[1][1] for x in t[0][1]])
        ),
        st.tuples(inner, INTS).map(
            lambda t: (
                f"[for x in {t[0][0]} : x if x > {t[1][0]}]",
                [x for x in t[0][1] if x > t[1][1]],
            )
        ),
        st.integers(0, 6).map(lambda n: (f"range({n})", list(range(n)))),
        inner.map(lambda e: (f"[for k, v in {{a = {e[0]}}} : length(v)]", [len(e[1])])),
        inner.map(lambda e: (f"[for o in [{{p = {e[0]}}}] : o.p][0]", e[1])),
        st.lists(INTS, max_size=3).map(
            lambda xs: (
                "[" + ", ".join(f"{{p = {x[0]}}}" for x in xs) + "][*].p",
                [x[1] for x in xs],
            )
        ),
        # a splat applies the traversals after it to each element
        inner.filter(lambda e: e[1]).map(lambda e: (f"[{{p = {e[0]}}}][*].p[0]", [e[1][0]])),
    )


def expressions() -> st.SearchStrategy[Expr]:
    maps = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), ints(1), max_size=3)
    return st.one_of(
        ints(),
        strings(),
        bools(),
        lists(),
        maps.map(
            lambda m: (
                "{" + ", ".join(f"{k} = {v[0]}" for k, v in m.items()) + "}",
                {k: v[1] for k, v in m.items()},
            )
        ),
        maps.map(
            lambda m: (
                "merge({" + ", ".join(f"{k} = {v[0]}" for k, v in m.items()) + "}, {zz = 1})",
                {**{k: v[1] for k, v in m.items()}, "zz": 1},
            )
        ),
        maps.map(
            lambda m: (
                "keys({" + ", ".join(f"{k} = {v[0]}" for k, v in m.items()) + "})",
                sorted(m),
            )
        ),
    )


def evaluate(exprs: list[Expr]) -> dict[str, Any]:
    """Each expression as a local (each one after the first also reached through the
    previous local) and an output; the outputs' values."""
    lines = ["locals {"]
    for i, (text, _) in enumerate(exprs):
        lines.append(f"  e{i} = {text}")
    lines.append("}")
    for i in range(len(exprs)):
        lines.append(f'output "o{i}" {{ value = local.e{i} }}')
    config = oracles.load_text("\n".join(lines) + "\n")
    assert config.diagnostics == [], [d.message for d in config.diagnostics]
    return {name: out.value for name, out in config.outputs.items()}


@FUZZ
@given(st.lists(expressions(), min_size=1, max_size=4))
def test_generated_expressions_evaluate_to_their_model(exprs: list[Expr]) -> None:
    values = evaluate(exprs)
    for i, (text, expected) in enumerate(exprs):
        assert values[f"o{i}"] == expected, (text, values[f"o{i}"], expected)


# ---- whole configurations -----------------------------------------------------------


@st.composite
def applications(draw: st.DrawFn) -> tuple[str, dict[str, list[tuple[str, str]]]]:
    """A site with 1-3 applications of 1-4 rules each; edge ports disjoint per protocol
    across the whole configuration (one agent), written as random port expressions."""
    free = {"tcp": 1000, "udp": 1000}
    apps: dict[str, list[tuple[str, str]]] = {}
    blocks = []
    use_var = draw(st.booleans())
    for a in range(draw(st.integers(1, 3))):
        name = f"app{a}"
        rules = []
        body = []
        for _ in range(draw(st.integers(1, 4))):
            protocol = draw(st.sampled_from(["tcp", "udp"]))
            items = []
            for _ in range(draw(st.integers(1, 3))):
                start = free[protocol] + draw(st.integers(0, 5))
                width = draw(st.integers(0, 3))
                items.append(str(start) if width == 0 else f"{start}-{start + width}")
                free[protocol] = start + width + 1
            expr = ",".join(draw(st.permutations(items)))
            rules.append((protocol, expr))
            passthrough = draw(
                st.sampled_from(
                    ["off", "proxy_v2"] + (["proxy_v1"] if protocol == "tcp" else ["spp"])
                )
            )
            origin_port = draw(st.sampled_from(['"9000"', "null", ""]))  # "": left out
            body.append(
                f"""  rule {{
    protocol              = "{protocol}"
    edge_port             = "{expr}"
    origin_type           = "ip"
    origin                = {"var.origin" if use_var else '"192.0.2.10"'}
{f"    origin_port           = {origin_port}" if origin_port else ""}
    client_ip_passthrough = "{passthrough}"
    comment               = "${{upper("{name}")}} rule"
  }}"""
            )
        apps[name] = rules
        blocks.append(
            f'resource "l4_application" "{name}" {{\n'
            f'  site   = l4_site.main.id\n  domain = "{name}"\n' + "\n".join(body) + "\n}\n"
        )
    text = """
variable "origin" {
  type    = string
  default = "192.0.2.10"
}
agent "a" {
  endpoint    = "http://127.0.0.1:1"
  public_ipv4 = "127.0.0.1"
}
resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.a]
}
""" + "\n".join(blocks)
    return text, apps


@FUZZ
@given(applications())
def test_generated_configurations_validate_and_evaluate(
    generated: tuple[str, dict[str, list[tuple[str, str]]]],
) -> None:
    text, apps = generated
    config = oracles.load_text(text)
    assert config.diagnostics == [], [d.message for d in config.diagnostics]
    problems = [d for d in check(config) if d.severity == "error"]
    assert problems == [], [f"{d.code} {d.message}" for d in problems]
    for name, rules in apps.items():
        attrs = config.resources[f"l4_application.{name}"].attrs
        assert attrs["id"] == f"{name}.example.com"
        got = [(r["protocol"], r["edge_port"]) for r in attrs["rule"]]
        assert got == rules
        assert all(r["comment"] == f"{name.upper()} rule" for r in attrs["rule"])


def test_null_origin_port_is_the_same_as_none() -> None:
    """Found by test_generated_configurations_validate_and_evaluate: `origin_port = null`
    was refused with L4E016 although SPEC §2 makes null the same as omitted (fixed
    in fac9ca3)."""
    source = """
resource "l4_site" "main" {
  name = "example.com"
  plan = "enterprise"
}
agent "a" {
  endpoint = "http://127.0.0.1:1"
}
resource "l4_application" "a" {
  site   = l4_site.main.id
  domain = "a"
  agents = [agent.a]
  rule {
    protocol    = "tcp"
    edge_port   = "1000"
    origin_type = "ip"
    origin      = "192.0.2.10"
    origin_port = null
  }
}
"""
    config = oracles.load_text(source)
    assert config.diagnostics == []
    assert [f"{d.code} {d.message}" for d in check(config) if d.severity == "error"] == []


@FUZZ
@given(st.one_of(applications().map(lambda g: g[0]), st.text(max_size=80)), st.data())
def test_damaged_configurations_load_into_diagnostics(text: str, data: st.DataObject) -> None:
    if text:
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 4))
        junk = data.draw(st.sampled_from(["", "{", "}", '"', "${", "%{", "=", "\x00", "\n", "[*]"]))
        text = text[:pos] + junk + text[pos + cut :]
    oracles.check_hcl_text(text)


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Any:
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed == failed:
        report("fuzz-hypothesis-hcl", f"{EXAMPLES} generated programs per property, 0 failures")
