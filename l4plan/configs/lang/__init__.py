"""The expression language: values, numbers, references, operators, evaluator, functions."""
