"""Settlement reconciliation: the money that actually moved, matched to paygate's records.

Readers turn each provider's settlement data into exact minor-unit ``Entry`` values (Stripe's
itemized report CSVs and Balance Transactions, Adyen's Settlement details and Payment
accounting reports); ``reconcile`` matches them to payment records and returns a typed
``Reconciliation`` of ``Finding`` values by ``Category``; with a record store it also applies
what settlement proves (a chargeback opens a dispute, an unknown outcome is resolved), each
with an audit entry citing the settlement row. ``paygate recon`` is the command line. See
docs/recon.md.
"""

from paygate.recon._csvfile import ReportFile
from paygate.recon.adyen import read_payment_accounting, read_settlement_details
from paygate.recon.entries import Entry, EntryKind, ReportError, minor_units
from paygate.recon.expected import Expected
from paygate.recon.matching import Action, Matcher, ReconPolicy
from paygate.recon.report import summary_table, write_csv, write_jsonl, write_report
from paygate.recon.results import Category, Finding, Reconciliation, Tally
from paygate.recon.run import apply_actions, read_settlement, reconcile
from paygate.recon.stripe import read_balance_transactions, read_stripe_report
from paygate.recon.stripe_api import (
    FetchError,
    balance_transactions_request,
    fetch_balance_transactions,
)

__all__ = [
    "Action",
    "Category",
    "Entry",
    "EntryKind",
    "Expected",
    "FetchError",
    "Finding",
    "Matcher",
    "ReconPolicy",
    "Reconciliation",
    "ReportError",
    "ReportFile",
    "Tally",
    "apply_actions",
    "balance_transactions_request",
    "fetch_balance_transactions",
    "minor_units",
    "read_balance_transactions",
    "read_payment_accounting",
    "read_settlement",
    "read_settlement_details",
    "read_stripe_report",
    "reconcile",
    "summary_table",
    "write_csv",
    "write_jsonl",
    "write_report",
]
