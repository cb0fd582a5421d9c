"""paygate's optional extras: the driver modules each one installs, and the error that names
the extra to install when a setting or a command needs one that is not there."""

from __future__ import annotations

import importlib
from typing import Final

from paygate.errors import ConfigurationError

__all__ = ["require_extra"]

_DRIVERS: Final = {
    "postgres": ("psycopg", "psycopg_pool"),
    "redis": ("redis",),
    "aiohttp": ("aiohttp", "yarl"),
    "otel": ("opentelemetry",),
    "recon": ("duckdb",),
}


def require_extra(extra: str, needed_by: str) -> None:
    """Import the drivers of ``extra``, or raise ``ConfigurationError`` saying that
    ``needed_by`` needs it and how to install it (``pip install 'paygate[postgres]'``). A
    module missing inside a driver that is there is not the extra's fault: it is raised as it
    is."""
    for driver in _DRIVERS[extra]:
        try:
            importlib.import_module(driver)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in _DRIVERS[extra]:
                raise
            raise ConfigurationError(
                f"{needed_by} needs the {extra} extra, which is not installed: "
                f"pip install 'paygate[{extra}]'"
            ) from None
