"""Validate plan JSON against schemas/plan.schema.json in tests."""

from __future__ import annotations

from typing import Any

import jsonschema

from l4plan.plans.planfile import plan_schema


def assert_valid_plan_json(data: Any) -> None:
    validator = jsonschema.Draft202012Validator(plan_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
