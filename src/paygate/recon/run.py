"""One reconciliation run: read a provider's settlement data, match it to the records, and
apply what settlement proves (a dispute, an unknown outcome resolved) through the record store,
each change with an audit entry citing the settlement row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from paygate.models import EventType, WebhookEvent
from paygate.money import Money
from paygate.recon import adyen, stripe
from paygate.recon._csvfile import Progress, ReportFile
from paygate.recon.entries import Entry, EntryKind, ReportError
from paygate.recon.expected import Expected
from paygate.recon.matching import Action, Matcher, ReconPolicy
from paygate.recon.results import Reconciliation
from paygate.records import changes
from paygate.records.state import PaymentRecord
from paygate.records.store import Applied, Locate, RecordStore
from paygate.records.trail import SettlementCause

__all__ = ["PROVIDERS", "apply_actions", "read_settlement", "reconcile"]

PROVIDERS = ("stripe", "adyen")


def read_settlement(provider: str, path: Path, *, progress: Progress | None = None) -> ReportFile:
    """A settlement file of ``provider``: a Stripe itemized report, or an Adyen Settlement
    details or Payment accounting report (told apart by their headers). Iterate it for its
    entries; give it to ``reconcile`` as it is, and a large one is read in several processes."""
    if provider == "stripe":
        return ReportFile(path, stripe.ITEMIZED_REPORT, progress)
    if provider != "adyen":
        raise ValueError(f"no settlement reader for {provider!r}; known: {', '.join(PROVIDERS)}")
    with path.open(encoding="utf-8-sig") as file:
        header = file.readline()
    if "Record Type" in header:
        return ReportFile(path, adyen.ACCOUNTING_REPORT, progress)
    if "Type" not in header:
        raise ReportError(
            path.name,
            1,
            "neither an Adyen Settlement details nor a Payment "
            "accounting report header (no Type or Record Type column)",
        )
    return ReportFile(path, adyen.DETAILS_REPORT, progress)


def reconcile(
    provider: str,
    entries: Iterable[Entry],
    records: RecordStore | Iterable[PaymentRecord | Expected | str],
    *,
    policy: ReconPolicy | None = None,
    store: RecordStore | None = None,
) -> Reconciliation:
    """Match ``entries`` to ``records`` and return what was found. ``records`` is a record
    store (its records of ``provider`` are read as JSON documents, never built: the fast way,
    and what ``paygate recon`` does); or records, their JSON documents
    (``RecordStore.scan_json``), or ``Expected`` projections built by hand.
    With ``store``, what settlement proves is applied to the records (chargebacks open or
    close their dispute; unknown outcomes are resolved); a settlement row is applied once
    however many times the same data is reconciled."""
    staged = records if isinstance(records, Iterable) else records.scan_json(provider)
    with Matcher(provider, staged, policy) as matcher:
        if isinstance(entries, ReportFile):
            matcher.feed_file(entries)
        else:
            for entry in entries:
                matcher.feed(entry)
        result = matcher.finish()
    if store is not None:
        result.applied.extend(apply_actions(store, matcher.actions))
    return result


def apply_actions(store: RecordStore, actions: Iterable[Action]) -> list[str]:
    """Apply each action through the store; the ids of the records it changed."""
    changed: list[str] = []
    for action in actions:
        applied = (
            _dispute(store, action)
            if action.entry.kind in {EntryKind.CHARGEBACK, EntryKind.CHARGEBACK_REVERSAL}
            else _resolve(store, action)
        )
        if applied.applied and applied.record is not None:
            changed.append(applied.record.record_id)
    return changed


def _cause(entry: Entry) -> SettlementCause:
    return SettlementCause(
        entry_id=entry.entry_id, line=entry.line, provider=entry.provider, source=entry.source
    )


def _dispute(store: RecordStore, action: Action) -> Applied:
    """A chargeback opens the record's dispute, a reversal closes it, as a provider's dispute
    notification would (an older one never undoes a later one)."""
    entry, now = action.entry, datetime.now(UTC)
    opened = entry.kind is EntryKind.CHARGEBACK
    event_id = f"settlement:{entry.entry_id}"
    event = WebhookEvent(
        provider=entry.provider,
        event_id=event_id,
        type=EventType.CHARGEBACK if opened else EventType.CHARGEBACK_REVERSED,
        provider_type=entry.provider_kind,
        payment_id=entry.payment_reference,
        amount=Money.from_minor_units(abs(entry.amount), entry.amount_currency),
        modification_id=entry.modification_reference,
        occurred_at=entry.created,
    )

    def change(record: PaymentRecord | None) -> changes.Change | None:
        return None if record is None else changes.apply_event(record, event, _cause(entry), now)

    return store.apply(Locate(record_id=action.record_id), change, event=(entry.provider, event_id))


def _resolve(store: RecordStore, action: Action) -> Applied:
    entry, now = action.entry, datetime.now(UTC)
    charged = Money.from_minor_units(action.settled, entry.amount_currency)

    def change(record: PaymentRecord | None) -> changes.Change | None:
        if record is None:
            return None
        return changes.resolved_by_settlement(
            record, entry.payment_reference, charged, _cause(entry), now
        )

    event = (entry.provider, f"settlement:{entry.entry_id}:resolution")
    return store.apply(Locate(record_id=action.record_id), change, event=event)
