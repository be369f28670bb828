"""Whatever the configuration says, loading ends in diagnostics, never in an exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from l4plan.configs import load_config

ATOMS = st.sampled_from(
    [
        "1",
        "-2",
        "0.5",
        '"s"',
        "true",
        "null",
        "var.v",
        "local.a",
        "l4_site.s",
        "l4_site.s.id",
        "l4_site.s.revisions",
        "agent.g",
        "agent.g.public_ipv4",
        "each.key",
        "count.index",
        "x",
        "[]",
        "{}",
        "l4_application.a",
        'l4_application.a["k"]',
        "self.x",
        "local.a.b",
    ]
)
FUNCTIONS = st.sampled_from(
    [
        "length",
        "toset",
        "upper",
        "merge",
        "concat",
        "keys",
        "tostring",
        "tonumber",
        "jsondecode",
        "file",
        "lookup",
        "format",
        "range",
        "coalesce",
        "can",
        "try",
        "element",
        "cidrhost",
        "split",
        "sensitive",
        "slice",
        "nope",
    ]
)
OPERATORS = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "&&", "||"])


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, OPERATORS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(FUNCTIONS, st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.lists(inner, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        st.tuples(inner, inner).map(lambda t: f"[for x in {t[0]} : {t[1]}]"),
        st.tuples(inner, inner).map(lambda t: f'"a${{{t[0]}}}%{{ if {t[1]} }}b%{{ endif }}"'),
        inner.map(lambda e: f"{e}[*].id"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


EXPRESSIONS = st.recursive(ATOMS, _compound, max_leaves=6)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(EXPRESSIONS, min_size=13, max_size=13),
    st.sampled_from(["", "count = 2", "for_each = {k = 1}", "count = local.a"]),
    st.sampled_from(["v=1", "v=[1, 2]", "v={a = 1}", "v=x", "v=[1,"]),
)
def test_loading_never_raises(exprs, meta, var_arg):
    e = iter(exprs)
    text = f"""
variable "v" {{
  type = list(number)
  default = {next(e)}
  validation {{
    condition     = {next(e)}
    error_message = {next(e)}
  }}
}}
locals {{
  a = {next(e)}
}}
agent "g" {{
  endpoint    = {next(e)}
  public_ipv4 = {next(e)}
}}
resource "l4_site" "s" {{
  name   = {next(e)}
  agents = [agent.g]
}}
resource "l4_application" "a" {{
  {meta}
  site   = {next(e)}
  domain = {next(e)}
  rule {{
    edge_port = {next(e)}
  }}
  lifecycle {{
    prevent_destroy = {next(e)}
  }}
}}
output "o" {{
  value     = {next(e)}
  sensitive = {next(e)}
}}
"""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "main.l4.hcl").write_text(text)
        config = load_config(Path(d), var_args=[var_arg], environ={"L4PLAN_VAR_v": "[1"})
    for diagnostic in config.diagnostics:
        assert diagnostic.code in ("L4E000", "L4E015", "L4E016", "L4E017")
        assert diagnostic.message
        if not diagnostic.message.startswith("--var"):
            assert diagnostic.file == "main.l4.hcl"
            assert diagnostic.line >= 1
