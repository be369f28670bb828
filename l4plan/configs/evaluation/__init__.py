"""Evaluation of a parsed configuration, in phases (run.py lists them)."""
