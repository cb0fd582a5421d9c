"""DuckDB for reconciliation (private): a connection that loads no extension it would have to
download, the records' projection (``_records.sql``) and the matching rules (``_rules.sql``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Final

from paygate._extras import require_extra

if TYPE_CHECKING:
    import duckdb

__all__ = ["RECORDS", "RULES", "connect"]

RECORDS: Final = files("paygate.recon").joinpath("_records.sql").read_text(encoding="utf-8")
RULES: Final = files("paygate.recon").joinpath("_rules.sql").read_text(encoding="utf-8")

_CONFIG: Final = {
    # Only what is built into the duckdb wheel (its CSV reader, core functions): an extension
    # that is not there is an error, never a download.
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # Every query orders what it returns itself; not keeping load order saves memory.
    "preserve_insertion_order": False,
}


@contextmanager
def connect(spill: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory database that spills to ``spill`` when a run outgrows its memory."""
    require_extra("recon", "matching settlement data (paygate.recon)")
    import duckdb  # noqa: PLC0415  # the recon extra's: imported when a match runs

    db = duckdb.connect(config={**_CONFIG, "temp_directory": str(spill)})
    try:
        db.execute("SET TimeZone = 'UTC'")  # a time written without an offset is UTC
        yield db
    finally:
        db.close()
