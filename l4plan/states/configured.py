"""The backend a configuration directory declares, for commands that only need state."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from l4plan.configs import load_config
from l4plan.configs.hcl.sources import config_file_names
from l4plan.configs.model import BackendConfig, Config
from l4plan.diagnostics import Diagnostic
from l4plan.states.errors import StateError


class ConfigurationError(StateError):
    """The configuration has errors that make its backend uncertain."""

    def __init__(self, diagnostics: list[Diagnostic], config: Config):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics
        self.config = config


def configured_backend(workdir: Path, environ: Mapping[str, str] | None = None) -> BackendConfig:
    """The `l4plan { backend ... }` of `workdir`; the default local backend without files.

    Errors inside resources do not matter to state commands and are ignored; any other
    error (syntax, the l4plan block, variables the backend may use) is raised as a
    ConfigurationError, since the backend read from a broken configuration could be wrong.
    """
    if not config_file_names(workdir):
        return BackendConfig()
    config = load_config(workdir, environ=environ)
    errors = [d for d in config.diagnostics if d.is_error and not d.address]
    if errors:
        raise ConfigurationError(errors, config)
    return config.backend
