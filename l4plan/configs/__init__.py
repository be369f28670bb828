"""Configuration loading: `load_config` reads a directory into an evaluated `Config`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from l4plan.configs.evaluation.run import evaluate_config
from l4plan.configs.hcl.errors import LOAD_ERROR
from l4plan.configs.hcl.sources import SourceFile, config_file_names, parse_source, read_text
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic, Pos

__all__ = ["load_config"]


def load_config(
    directory: Path,
    *,
    var_args: Sequence[str] = (),
    var_files: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load, parse and evaluate every configuration file in `directory`.

    Never raises for bad input: every problem is in the returned `Config.diagnostics`.
    `environ` defaults to the process environment (for `L4PLAN_VAR_name`).
    """
    directory = Path(directory)
    config = Config(directory=directory)
    if not directory.is_dir():
        config.diagnostics.append(
            Diagnostic.at(LOAD_ERROR, f"{directory} is not a directory", Pos(str(directory), 0, 0))
        )
        return config
    paths = config_file_names(directory)
    if not paths:
        config.diagnostics.append(
            Diagnostic.at(
                LOAD_ERROR,
                f"no configuration files (*.l4.hcl or *.hcl) in {directory}",
                Pos(str(directory), 0, 0),
            )
        )
        return config
    files: list[SourceFile] = []
    for path in paths:
        text, problem = read_text(path, path.name)
        if text is None:
            config.diagnostics.append(problem)  # type: ignore[arg-type]
            continue
        config.files[path.name] = text
        body, problem = parse_source(path.name, text)
        if body is None:
            config.diagnostics.append(problem)  # type: ignore[arg-type]
            continue
        files.append(SourceFile(path.name, body))
    evaluate_config(
        config,
        files,
        var_args=var_args,
        var_files=var_files,
        environ=os.environ if environ is None else environ,
    )
    config.diagnostics[:] = sorted(
        _unique(config.diagnostics), key=lambda d: (d.file, d.line, d.column)
    )
    return config


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop repeats (an error in an expression is reported once, not per count instance)."""
    seen: set[tuple[str, str, str, int, int]] = set()
    out = []
    for d in diagnostics:
        key = (d.code, d.message, d.file, d.line, d.column)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
