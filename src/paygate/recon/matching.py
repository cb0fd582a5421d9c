"""Matching settlement entries to payment records, in DuckDB: each category defined once, in
SQL (``_rules.sql``), with its priority (the ``category`` type there is ``Category``'s values
in declaration order, so ordering by it is ordering by priority).

Records are staged by ``finish``, as their JSON documents (projected in SQL,
``_records.sql``), and entries as they are fed (``_staging``: typed columns, minor units as
BIGINT, never a float); ``finish`` runs the rules. Each row is
joined to a record by the provider's payment reference, then by the modification reference (a
capture's or refund's own id), then by the merchant reference when exactly one record holds it.
Charge rows are summed per record and judged with every record that no row settled.

There is one engine, not two: small inputs run through DuckDB too. A pure-Python matcher for
small files would be a second statement of every rule, and could only share the categories'
names with the SQL, not their definitions: the two would drift, and the tests (small inputs)
would check the engine a million rows never use. DuckDB's fixed cost for a small run is small.
What settlement changes on records (disputes, resolved unknown outcomes) stays in Python,
through the record store (``Action``, ``paygate.recon.run.apply_actions``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from paygate.money import Money
from paygate.recon._csvfile import ReportFile
from paygate.recon._engine import RECORDS, RULES, connect
from paygate.recon._parallel import PARALLEL_BYTES, Workers, cpus, spans
from paygate.recon._staging import Staging, entry_file, entry_of
from paygate.recon.entries import Entry, EntryKind
from paygate.recon.expected import Expected
from paygate.recon.results import Category, Finding, Reconciliation
from paygate.records.state import PaymentRecord

if TYPE_CHECKING:
    import duckdb

__all__ = ["Action", "Matcher", "ReconPolicy"]

logger: Final = logging.getLogger("paygate")
_GRACE_UNLISTED: Final = timedelta(days=7)  # a provider ``ReconPolicy.grace`` does not list
DEFAULT_GRACE: Final[Mapping[str, timedelta]] = MappingProxyType(
    {"stripe": timedelta(days=7), "adyen": timedelta(days=3)}
)


@dataclass(frozen=True, slots=True)
class ReconPolicy:
    """How strict a run is. ``tolerance``: per currency, the difference still counted as a
    match (exact when a currency is not listed); ``grace``: per provider, how long after a
    record last changed its capture may go unsettled before it is ``not_settled``; ``as_of``:
    the time the grace is measured to (now by default); ``since``: records that last changed
    before it are not expected in this settlement data."""

    tolerance: Mapping[str, Money] = field(default_factory=dict)
    grace: Mapping[str, timedelta] = field(default_factory=lambda: DEFAULT_GRACE)
    as_of: datetime | None = None
    since: datetime | None = None

    def tolerance_for(self, currency: str) -> int:
        allowed = self.tolerance.get(currency)
        return 0 if allowed is None else abs(allowed.to_minor_units())


@dataclass(frozen=True, slots=True)
class Action:
    """A change settlement asks of a record: a dispute opened or reversed (``kind`` is the
    entry's), or an unknown outcome resolved by the amount the settlement shows charged."""

    record_id: str
    entry: Entry
    settled: int  # minor units: the charge settled (resolution) or the row's amount


class Matcher:
    """Joins entries of one provider to the records expected to settle, in DuckDB: the records
    are staged by ``finish`` (while any report's workers read), each entry as it is fed, and
    ``finish`` runs the rules.
    ``records`` may hold full records, their JSON documents as a store keeps them
    (``RecordStore.scan_json``: the fast way), or projections built by hand (``Expected``);
    those of other providers are left out."""

    def __init__(
        self,
        provider: str,
        records: Iterable[PaymentRecord | Expected | str],
        policy: ReconPolicy | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy or ReconPolicy()
        self.actions: list[Action] = []
        self._directory = tempfile.TemporaryDirectory(prefix="paygate-recon-")
        self._staging = Staging(Path(self._directory.name))
        self._records = records  # staged by ``finish``, while any report's workers run
        self._entries = self._staging.entries()
        self._workers: list[tuple[ReportFile, Workers]] = []

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop any worker still reading and remove the staging files (``finish`` does, once
        it has run)."""
        for _, workers in self._workers:
            workers.stop()
        self._entries.close()
        self._directory.cleanup()

    def feed(self, entry: Entry) -> None:
        self._entries.write(entry)

    def feed_file(self, report: ReportFile) -> None:
        """Feed every entry of a report file. A large one, fed first, is read by one worker
        process per CPU (``_parallel``) while the records are staged; any other, here."""
        parallel = self._entries.count == 0 and not self._workers
        if parallel and report.path.stat().st_size >= PARALLEL_BYTES:
            parts = spans(report.path, cpus())
            if len(parts) > 1:
                directory = Path(self._directory.name)
                try:
                    workers = Workers(report.format.name, report.path, parts, directory)
                except OSError as exc:  # no interpreter to start: read it here
                    logger.warning("paygate recon: cannot start workers (%s); reading here", exc)
                else:
                    self._workers.append((report, workers))
                    self._entries.first = (len(parts) + 1) << 40  # what is fed next comes after
                    return
        for entry in report:
            self.feed(entry)

    def finish(self) -> Reconciliation:
        """Judge every entry fed, every record's charge rows, and every captured record no row
        settled; ``actions`` lists what settlement asks of the records."""
        try:
            result = Reconciliation(self.provider, rows=self._stage())
            with connect(Path(self._directory.name)) as db:
                self._run(db)
                for row in db.execute(_FINDINGS).fetchall():
                    result.findings.append(Finding(Category(row[0]), *row[1:]))
                for category, currency, count, amount in db.execute(_TALLIES).fetchall():
                    result.count(Category(category), currency, int(amount), int(count))
                for record_id, settled, *entry in db.execute(_ACTIONS).fetchall():
                    self.actions.append(Action(record_id, entry_of(tuple(entry)), settled))
        finally:
            self.close()
        result.finish()
        return result

    def _run(self, db: duckdb.DuckDBPyConnection) -> None:
        categories = ", ".join(f"'{category.value}'" for category in Category)
        db.execute(f"CREATE TYPE category AS ENUM ({categories})")
        kinds = [kind.value for kind in EntryKind if kind.about_a_payment]
        db.execute(
            "CREATE TEMP TABLE about_a_payment AS SELECT unnest(?::VARCHAR[]) AS kind", [kinds]
        )
        allowed = [
            (str(currency), self.policy.tolerance_for(currency))
            for currency in self.policy.tolerance
        ]
        db.execute("CREATE TEMP TABLE tolerance (currency VARCHAR, allowed BIGINT)")
        if allowed:
            db.executemany("INSERT INTO tolerance VALUES (?, ?)", allowed)
        self._project(db)
        db.execute(RULES)

    def _stage(self) -> int:
        """Stage the records, then the entries the workers (if any) staged; how many entries
        were staged in all. While workers read, the records are staged on a thread of their
        own, so that this one relays the workers' progress as it comes."""
        if not self._workers:
            self._staging.records(self._records)
            self._entries.close()
            return self._entries.count
        with ThreadPoolExecutor(1, thread_name_prefix="paygate-recon") as pool:
            records = pool.submit(self._staging.records, self._records)
            try:
                staged = self._wait_for_workers()
            finally:
                records.result()  # its failure, if any, is raised here
        self._entries.close()
        return staged + self._entries.count

    def _wait_for_workers(self) -> int:
        staged = 0
        for report, workers in self._workers:
            count = workers.wait(report.progress)
            if count is not None:
                self._staging.add_entries(workers.paths)
                staged += count
                continue
            if not workers.refused:
                logger.warning(
                    "paygate recon: reading %s in %d processes failed (%s); reading it here",
                    report.path.name, len(workers.paths), "; ".join(workers.failures()) or "?",
                )  # fmt: skip
            # Read here, numbered where the workers' entries would have been; a refusal is
            # raised at the line a serial read finds it.
            path = workers.paths[0].with_name("entries-here.csv")
            here = entry_file(path, 1 << 40)
            try:
                for entry in report:
                    here.write(entry)
            finally:
                here.close()
            self._staging.add_entries([path])
            staged += here.count
        return staged

    def _project(self, db: duckdb.DuckDBPyConnection) -> None:
        """Load what was staged, and project the records (``records``, ``modifications``)."""
        policy = self.policy
        db.execute(
            "CREATE TEMP TABLE policy AS SELECT ?::VARCHAR AS provider, "
            "?::TIMESTAMPTZ AS as_of, ?::TIMESTAMPTZ AS since, ?::INTERVAL AS grace",
            [
                self.provider,
                policy.as_of or datetime.now(UTC),
                policy.since,
                policy.grace.get(self.provider, _GRACE_UNLISTED),
            ],
        )
        self._staging.load(db)
        db.execute(RECORDS)


_FINDINGS: Final = "SELECT * EXCLUDE (ordered) FROM findings ORDER BY ordered"
_TALLIES: Final = "SELECT * FROM tallies"
_ACTIONS: Final = "SELECT * EXCLUDE (ordered) FROM actions ORDER BY ordered"
