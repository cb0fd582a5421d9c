"""Stripe's settlement data: the itemized report CSVs (``balance_change_from_activity.itemized.3``
and ``payout_reconciliation.itemized.5``, amounts in major units) and Balance Transactions API
objects (amounts in Stripe's minor units), each read into ``Entry`` values.

Both carry ``reporting_category``; ``CATEGORIES`` maps every value paygate knows to an
``EntryKind``, and a value it does not know stops the read at its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from paygate.adapters.stripe import CAPABILITIES, REFERENCE_KEY, SPEC
from paygate.errors import InvalidRequestError
from paygate.money import Currency
from paygate.recon._csvfile import Format, Layout, Progress, read_report
from paygate.recon._rows import Cells
from paygate.recon.entries import Entry, EntryKind, ReportError, currency

__all__ = ["CATEGORIES", "ITEMIZED", "read_balance_transactions", "read_stripe_report"]

K = EntryKind
CATEGORIES: Final[Mapping[str, EntryKind]] = MappingProxyType(
    {
        "charge": K.CHARGE,
        "partial_capture_reversal": K.RELEASE,
        "refund": K.REFUND,
        "refund_failure": K.REFUND_REVERSAL,
        "dispute": K.CHARGEBACK,
        "dispute_reversal": K.CHARGEBACK_REVERSAL,
        "fee": K.FEE,
        "tax": K.FEE,
        "payout": K.PAYOUT,
        "payout_reversal": K.PAYOUT,
        "transfer": K.ADJUSTMENT,
        "transfer_reversal": K.ADJUSTMENT,
        "other_adjustment": K.ADJUSTMENT,
        "topup": K.ADJUSTMENT,
        "topup_reversal": K.ADJUSTMENT,
        "connect_reserved_funds": K.ADJUSTMENT,
        "risk_reserved_funds": K.ADJUSTMENT,
        "platform_earning": K.ADJUSTMENT,
        "platform_earning_refund": K.ADJUSTMENT,
        "contribution": K.ADJUSTMENT,
    }
)

PROVIDER: Final = SPEC.name
_REFERENCE_COLUMN: Final = f"payment_metadata[{REFERENCE_KEY}]"

ITEMIZED: Final = Layout(
    name="Stripe itemized balance report",
    required=frozenset(
        {"balance_transaction_id", "created_utc", "currency", "gross", "fee", "net"}
        | {"reporting_category", "source_id"}
    ),
    optional=frozenset(
        {"created", "available_on", "available_on_utc", "description", "regulatory_tag"}
        | {"customer_facing_amount", "customer_facing_currency", "automatic_payout_id"}
        | {"automatic_payout_effective_at", "automatic_payout_effective_at_utc"}
        | {"customer_id", "customer_email", "customer_name", "customer_description"}
        | {"charge_id", "payment_intent_id", "charge_created", "charge_created_utc"}
        | {"invoice_id", "invoice_number", "subscription_id", "payment_method_type", "is_link"}
        | {"card_brand", "card_funding", "card_country", "statement_descriptor"}
        | {"dispute_reason", "exchange_rate"}
    ),
    patterns=(
        re.compile(r"(payment|refund|transfer)_metadata\[[^\]]+\]"),
        re.compile(r"shipping_address_[a-z0-9_]+"),
        re.compile(r"connected_account_[a-z0-9_]+"),
    ),
)


def _kind(category: str, cells: Cells) -> EntryKind:
    kind = CATEGORIES.get(category)
    if kind is None:
        raise cells.error(f"unknown reporting_category {category[:40]!r}")
    return kind


def read_stripe_report(path: Path, *, progress: Progress | None = None) -> Iterator[Entry]:
    """The entries of an itemized report CSV, in file order, streamed."""
    return read_report(path, ITEMIZED_REPORT, progress=progress)


def _report_entry(cells: Cells) -> Entry:
    category = cells.required("reporting_category")
    kind = _kind(category, cells)
    code = cells.currency("currency")
    gross = cells.minor("gross", code)
    facing = cells.text("customer_facing_currency")
    amount_currency, amount = code, gross
    if facing is not None and cells.text("customer_facing_amount") is not None:
        amount_currency = cells.currency("customer_facing_currency")
        shown = cells.minor("customer_facing_amount", amount_currency)
        amount = -abs(shown) if gross < 0 else abs(shown)  # the sign follows gross
    return Entry(
        provider=PROVIDER,
        kind=kind,
        provider_kind=category,
        entry_id=cells.required("balance_transaction_id"),
        payment_reference=cells.text("payment_intent_id"),
        merchant_reference=cells.text(_REFERENCE_COLUMN),
        modification_reference=cells.text("source_id"),
        currency=code,
        gross=gross,
        fee=cells.minor("fee", code),
        net=cells.minor("net", code),
        amount_currency=amount_currency,
        amount=amount,
        exchange_rate=cells.rate("exchange_rate"),
        created=cells.time("created_utc"),
        available=cells.maybe_time("available_on_utc"),
        payout=cells.text("automatic_payout_id"),
        source=cells.source,
        line=cells.line,
    )


ITEMIZED_REPORT: Final = Format("stripe_itemized", ITEMIZED, _report_entry)


# -- the Balance Transactions API ----------------------------------------------------------------
class _Object:
    """One API object's fields, each refusal naming its position in the listing."""

    def __init__(self, source: str, line: int, body: Mapping[str, Any]) -> None:
        self.source, self.line, self.body = source, line, body

    def error(self, message: str) -> ReportError:
        return ReportError(self.source, self.line, message)

    def text(self, name: str, body: Mapping[str, Any] | None = None) -> str | None:
        value = (self.body if body is None else body).get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{name} is not a string")
        return value

    def integer(self, name: str) -> int:
        value = self.body.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{name} is not an integer")
        return value

    def minor(self, name: str, code: str) -> int:
        """A Stripe amount (Stripe's scale for ``code``) as ISO minor units of ``code``."""
        try:
            scale = CAPABILITIES.currencies[code.upper()]
            return scale.from_wire(self.integer(name), code.upper()).to_minor_units()
        except (KeyError, InvalidRequestError) as exc:
            raise self.error(f"{name}: {exc}") from None


def read_balance_transactions(
    objects: list[Mapping[str, Any]], *, source: str = "balance_transactions", first_line: int = 1
) -> Iterator[Entry]:
    """The entries of one page of ``GET /v1/balance_transactions`` (``data``), with ``source``
    expanded or not; ``first_line`` is the position of the page's first object in the
    listing."""
    for offset, body in enumerate(objects):
        yield _api_entry(_Object(source, first_line + offset, body))


def _api_entry(obj: _Object) -> Entry:
    code_text = obj.text("currency") or _missing(obj, "currency")
    code = _currency(obj, code_text)
    category = obj.text("reporting_category") or ""
    kind = CATEGORIES.get(category)
    if kind is None:
        raise obj.error(f"unknown reporting_category {category[:40]!r}")
    gross = obj.minor("amount", code_text)
    source = obj.body.get("source")
    expanded: Mapping[str, Any] = source if isinstance(source, dict) else {}
    source_id = expanded.get("id") if expanded else source
    if source_id is not None and not isinstance(source_id, str):
        raise obj.error("source is neither an id nor an object")
    metadata = expanded.get("metadata")
    reference = metadata.get(REFERENCE_KEY) if isinstance(metadata, dict) else None
    rate = obj.body.get("exchange_rate")
    amount_currency, amount = code, gross
    original = expanded.get("currency")
    if isinstance(original, str) and original.lower() != code_text.lower():
        amount_currency = _currency(obj, original)
        shown = _Object(obj.source, obj.line, expanded).minor("amount", original)
        amount = -abs(shown) if gross < 0 else abs(shown)  # the sign follows the balance's
    return Entry(
        provider=PROVIDER,
        kind=kind,
        provider_kind=category,
        entry_id=obj.text("id") or _missing(obj, "id"),
        payment_reference=obj.text("payment_intent", expanded) if expanded else None,
        merchant_reference=reference if isinstance(reference, str) else None,
        modification_reference=source_id,
        currency=code,
        gross=gross,
        fee=obj.minor("fee", code_text),
        net=obj.minor("net", code_text),
        amount_currency=amount_currency,
        amount=amount,
        exchange_rate=None if rate is None else Decimal(str(rate)),
        created=_unix(obj, "created"),
        available=_unix(obj, "available_on") if obj.body.get("available_on") else None,
        payout=None,
        source=obj.source,
        line=obj.line,
    )


def _missing(obj: _Object, name: str) -> str:
    raise obj.error(f"{name} is missing")


def _currency(obj: _Object, code: str) -> Currency:
    try:
        return currency(code)
    except InvalidRequestError:
        raise obj.error(f"unknown currency {code[:10]!r}") from None


def _unix(obj: _Object, name: str) -> datetime:
    return datetime.fromtimestamp(obj.integer(name), UTC)
