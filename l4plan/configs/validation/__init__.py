"""Validation of the evaluated configuration: JSON schemas, then the product constraints.

`configs.validate.check` runs both; docs/constraints.md lists every rule.
"""
