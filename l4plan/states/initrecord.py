"""What `l4plan init` prepared: `.l4plan/backend.json` in the working directory.

Like Terraform's `.terraform/terraform.tfstate`, the record lets l4plan notice that the
configured backend changed and that the state must be migrated (`init --migrate-state`)
before anything reads or writes it. It can hold a connection string with a password,
so it is written with mode 0600.
"""

from __future__ import annotations

from pathlib import Path

from l4plan import jsontext
from l4plan.configs.model import BackendConfig
from l4plan.states.atomicfile import write_atomic
from l4plan.states.errors import StateError
from l4plan.states.workspaces import DATA_DIR

DEFAULT_BACKEND = BackendConfig()


def record_file(workdir: Path) -> Path:
    return workdir / DATA_DIR / "backend.json"


def recorded_backend(workdir: Path) -> BackendConfig | None:
    """The backend `init` last prepared here; None if `init` never ran."""
    path = record_file(workdir)
    try:
        data = jsontext.loads(path.read_text(encoding="utf-8"))
        return BackendConfig(type=str(data["type"]), options=dict(data["options"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StateError(
            f"{path} is unreadable ({e}); run `l4plan init` to record the backend again"
        ) from None


def record_backend(workdir: Path, config: BackendConfig) -> None:
    path = record_file(workdir)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    text = jsontext.dumps({"type": config.type, "options": config.options}, indent=2) + "\n"
    write_atomic(path, text.encode())


def same_backend(a: BackendConfig, b: BackendConfig) -> bool:
    return a.type == b.type and a.options == b.options


def describe_backend(config: BackendConfig) -> str:
    """`backend "pg"` plus its options, with the connection string left out."""
    shown = {k: v for k, v in config.options.items() if k != "conn_str"}
    detail = ", ".join(f"{k} = {v!r}" for k, v in sorted(shown.items()))
    return f'backend "{config.type}"' + (f" ({detail})" if detail else "")


def check_initialized(config: BackendConfig, workdir: Path) -> None:
    """Refuse to use a backend that `init` has not prepared (the default local one needs not)."""
    recorded = recorded_backend(workdir)
    if recorded is None:
        if config.type == "local":
            return
        raise StateError(
            f"{describe_backend(config)} is not initialized in {workdir}: run `l4plan init`"
        )
    if not same_backend(recorded, config):
        raise StateError(
            f"the backend configuration changed since `l4plan init` (was "
            f"{describe_backend(recorded)}, now {describe_backend(config)}): run "
            "`l4plan init --migrate-state` to copy the state to the new backend, or "
            "`l4plan init --reconfigure` to use the new backend as it is"
        )
