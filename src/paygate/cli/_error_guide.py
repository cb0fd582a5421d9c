"""Renders ``docs/errors.md`` from the error classes and every provider's mapping tables.

Private. After changing ``paygate/errors.py`` or a provider's code tables, run::

    paygate errors --format markdown > docs/errors.md

``tests/cli/test_error_guide.py`` fails while the committed page differs from ``render_markdown()``,
and checks the tree drawn in ``paygate.errors``' docstring against the real classes.

What comes from where: the tree is the one drawn in ``paygate.errors``' docstring; the leaves'
descriptions are their class docstrings; an ``ErrorCode``'s branches are derived from the
classes' default codes and from the transport seam's phase table, plus ``_STATED_BRANCHES`` for
codes whose class depends on the call; the decision table is rendered from
``paygate._decision.DECISIONS``; a section per provider in the registry is rendered from its
``ProviderSpec.error_tables``. The prose tables below (meanings, what to do) are checked for
totality by the tests.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from paygate import errors
from paygate._decision import DECISIONS, Reach
from paygate.adapters.failures import Kind
from paygate.adapters.registry import ProviderErrorTables, provider_specs
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    ErrorContext,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    RetryAdvice,
    TerminalError,
)
from paygate.resilience.transport_errors import PHASES, Phase

__all__ = [
    "Branch",
    "DrawnNode",
    "ProviderErrorTables",
    "branches_of",
    "drawn_tree",
    "error_classes",
    "providers",
    "render_markdown",
]

COMMAND: Final = "paygate errors --format markdown > docs/errors.md"


# -- the providers ----------------------------------------------------------------------------
def providers() -> tuple[ProviderErrorTables, ...]:
    """Every registered provider's tables, in the order the guide shows them."""
    return tuple(spec.error_tables for spec in provider_specs())


# -- branches ----------------------------------------------------------------------------------
class Branch(StrEnum):
    RETRIABLE = "retriable"
    TERMINAL = "terminal"
    OUTCOME_UNKNOWN = "outcome unknown"


BRANCH_CLASSES: Final[Mapping[Branch, type[PaymentError]]] = MappingProxyType(
    {
        Branch.RETRIABLE: RetriableError,
        Branch.TERMINAL: TerminalError,
        Branch.OUTCOME_UNKNOWN: OutcomeUnknown,
    }
)

# How far a transport failure got decides its branch; a sent mutating call is outcome-unknown,
# a sent read is retriable.
_PHASE_BRANCHES: Final[Mapping[Phase, frozenset[Branch]]] = MappingProxyType(
    {
        Phase.NOT_SENT: frozenset({Branch.RETRIABLE}),
        Phase.SENT: frozenset({Branch.RETRIABLE, Branch.OUTCOME_UNKNOWN}),
        Phase.LOCAL: frozenset({Branch.TERMINAL}),
    }
)

# Branches that neither a class's default code nor the transport table reveal: the class
# depends on the failure's kind and the call (``paygate._decision``).
_R, _T, _O = Branch.RETRIABLE, Branch.TERMINAL, Branch.OUTCOME_UNKNOWN
_STATED_BRANCHES: Final[Mapping[ErrorCode, frozenset[Branch]]] = MappingProxyType(
    {
        ErrorCode.UNSUPPORTED: frozenset({_T}),
        ErrorCode.AUTHENTICATION: frozenset({_T}),
        ErrorCode.PERMISSION: frozenset({_T}),
        ErrorCode.NOT_FOUND: frozenset({_T}),
        ErrorCode.INVALID_STATE: frozenset({_T}),
        ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE: frozenset({_T}),
        ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE: frozenset({_T}),
        ErrorCode.AMOUNT_INVALID: frozenset({_T}),
        ErrorCode.REATTEMPT_LIMITED: frozenset({_T}),
        ErrorCode.RATE_LIMITED: frozenset({_R}),
        ErrorCode.PROVIDER_UNAVAILABLE: frozenset({_O}),  # a 5xx answer to a mutating call
        ErrorCode.SCHEMA_VIOLATION: frozenset({_T, _O}),  # a read / a mutating call
        ErrorCode.RESPONSE_TOO_LARGE: frozenset({_T, _O}),  # a read / a mutating call
        ErrorCode.STORE_UNAVAILABLE: frozenset({_O}),  # an answer the record did not take
        ErrorCode.UNEXPECTED_RESPONSE: frozenset({_T, _O}),  # a read / a mutating call
        ErrorCode.INTEGRITY_MISMATCH: frozenset({_T, _O}),  # a read / a mutating call
        ErrorCode.WEBHOOK_STALE: frozenset({_T}),  # InvalidWebhookError with this code
        ErrorCode.WEBHOOK_MALFORMED: frozenset({_T}),
        ErrorCode.UNKNOWN: frozenset({_T}),  # an unrecognised error type or HTTP status
    }
)


def error_classes() -> list[type[PaymentError]]:
    """Every error class defined in ``paygate.errors``, in definition order."""
    return [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type)
        and issubclass(obj, PaymentError)
        and obj.__module__ == errors.__name__
    ]


def branch_of(cls: type[PaymentError]) -> Branch | None:
    return next((b for b, base in BRANCH_CLASSES.items() if issubclass(cls, base)), None)


def branches_of(code: ErrorCode) -> frozenset[Branch]:
    """The branches an error with ``code`` can arrive under (derived, then stated)."""
    found = set(_STATED_BRANCHES.get(code, frozenset()))
    found.update(
        branch
        for cls in error_classes()
        if cls.default_code is code and (branch := branch_of(cls)) is not None
    )
    for phase, phase_code in PHASES.values():
        if phase_code is code:
            found |= _PHASE_BRANCHES[phase]
    return frozenset(found)


# -- prose, checked for totality by the tests --------------------------------------------------
BRANCH_ACTIONS: Final[Mapping[Branch, str]] = MappingProxyType(
    {
        Branch.RETRIABLE: (
            "Repeat the same call with the same idempotency key after a pause (`retry_after` "
            "when the provider named one). The gateway already does this within its retry "
            "policy and deadline, so one that reaches your code means the attempts were spent: "
            "queue the work for later or report a temporary failure."
        ),
        Branch.TERMINAL: (
            "Do not repeat the request as it is. A `CardDeclinedError` goes to the customer: "
            "choose the message from `reason` and follow `advice` before any new attempt (a new "
            "attempt is a new payment with a new idempotency key). Other terminal errors point "
            "at the request, the payment's state or the configuration: fix that first."
        ),
        Branch.OUTCOME_UNKNOWN: (
            "Money may have moved. Do not mark the order failed and do not start a new payment. "
            "Repeat the call with the same idempotency key (it is on the error), retrieve the "
            "payment (`payment_id`, or your `reference`), or wait for the provider's webhook; "
            "keep the order parked for reconciliation until one of them settles it."
        ),
    }
)

CODE_MEANINGS: Final[Mapping[ErrorCode, str]] = MappingProxyType(
    {
        ErrorCode.CARD_DECLINED: (
            "The issuer, the card network or the provider's risk checks refused the payment; "
            "see `reason` and `advice`."
        ),
        ErrorCode.INVALID_REQUEST: (
            "The request cannot be sent as it is: refused by paygate before anything was sent "
            "(a wrong type; a character, length, format or limit the provider does not take; "
            "what looks like a card number outside the card fields) or by the provider."
        ),
        ErrorCode.UNSUPPORTED: (
            "The provider, the account or the payment method does not offer this operation, "
            "currency or feature."
        ),
        ErrorCode.AUTHENTICATION: "The API key is missing, wrong, expired or of the wrong kind.",
        ErrorCode.PERMISSION: (
            "The credentials work but may not do this (account restrictions, test and live "
            "mode mixed)."
        ),
        ErrorCode.NOT_FOUND: "No such payment (or other object) for these credentials.",
        ErrorCode.REATTEMPT_LIMITED: (
            "A merchant-initiated payment on a card declined too often lately, or declined "
            "for good (the card networks fine such reattempts); refused before anything was "
            "sent. Ask the customer for another card, or wait."
        ),
        ErrorCode.INVALID_STATE: (
            "The payment's state forbids the operation: already captured or refunded, "
            "authorization expired, disputed, ..."
        ),
        ErrorCode.IDEMPOTENCY_CONFLICT: (
            "The idempotency key was already used for a different request."
        ),
        ErrorCode.IDEMPOTENCY_IN_FLIGHT: (
            "A call with the same idempotency key is still running; try again later, same key."
        ),
        ErrorCode.AMOUNT_EXCEEDS_CAPTURABLE: "More than the authorization has left to capture.",
        ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE: (
            "More than the payment has left to refund (or it is fully refunded)."
        ),
        ErrorCode.AMOUNT_INVALID: (
            "Not an exact amount, below the provider's minimum charge, above its maximum, or "
            "not expressible in the currency (paygate never rounds)."
        ),
        ErrorCode.RATE_LIMITED: "The provider asked the caller to slow down; nothing was done.",
        ErrorCode.PROVIDER_UNAVAILABLE: (
            "The provider failed (5xx, a 503 included). Retriable for a read; a mutating "
            "call's outcome is unknown (the failure may come after the provider acted)."
        ),
        ErrorCode.NETWORK: (
            "The connection failed: retriable if nothing was sent, outcome unknown for a "
            "mutating call that was."
        ),
        ErrorCode.TIMEOUT: (
            "A connect, pool, write or read timeout, or the call's total deadline; split like "
            "network errors."
        ),
        ErrorCode.CIRCUIT_OPEN: "The provider's circuit breaker is open; nothing was sent.",
        ErrorCode.BULKHEAD_FULL: "Too many calls in flight to this provider; nothing was sent.",
        ErrorCode.STORE_UNAVAILABLE: (
            "paygate's idempotency or payment record store could not be reached in time; the "
            "call was refused before anything was sent. After a provider's answer, the record "
            "that could not be written makes the outcome unknown."
        ),
        ErrorCode.SCHEMA_VIOLATION: (
            "The provider's answer could not be read (not JSON, fields missing or mistyped, an "
            "unknown status)."
        ),
        ErrorCode.RESPONSE_TOO_LARGE: (
            "The provider's answer is larger than `LimitsPolicy.response_body` (as sent, or "
            "once decompressed); paygate stopped reading it. On a mutating call the provider "
            "may have acted: the outcome is unknown."
        ),
        ErrorCode.UNEXPECTED_RESPONSE: (
            "An answer that is not in the provider's API format: a redirect, or an error "
            "status with an HTML page or someone else's body (a proxy, a load balancer, a "
            "firewall). It says nothing about what the provider did, so on a mutating call the "
            "outcome is unknown, and it never settles an earlier unknown outcome."
        ),
        ErrorCode.INTEGRITY_MISMATCH: (
            "The provider's answer does not match the request (another amount, currency or "
            "payment)."
        ),
        ErrorCode.WEBHOOK_SIGNATURE_INVALID: (
            "A webhook delivery's signature does not verify (forged, or the wrong secret), or "
            "no webhook secret is configured. Nothing was applied; answer 400."
        ),
        ErrorCode.WEBHOOK_STALE: (
            "A webhook delivery signed too long ago (outside the tolerance window): a replay "
            "or a badly skewed clock. Nothing was applied; answer 400."
        ),
        ErrorCode.WEBHOOK_MALFORMED: (
            "A signed webhook delivery paygate cannot read. Nothing was applied; answer 400 and "
            "look at the delivery in the provider's dashboard."
        ),
        ErrorCode.CONFIGURATION: (
            "paygate's settings are wrong (a missing or invalid setting, a settings file that "
            "is not there, a store whose extra is not installed); raised before any call."
        ),
        ErrorCode.UNKNOWN: (
            "No mapping applies: an unrecognised error type or HTTP status, or an outcome "
            "nobody can tell yet."
        ),
    }
)

REASON_MEANINGS: Final[Mapping[DeclineReason, str]] = MappingProxyType(
    {
        DeclineReason.GENERIC: "Declined, no specific reason given.",
        DeclineReason.INSUFFICIENT_FUNDS: "Not enough funds or available credit.",
        DeclineReason.EXPIRED_CARD: "The card has expired, or the expiry date given is wrong.",
        DeclineReason.INCORRECT_CVC: "The security code is wrong.",
        DeclineReason.INCORRECT_NUMBER: "The card number is wrong.",
        DeclineReason.INCORRECT_PIN: "The PIN is wrong, or too many PIN attempts were made.",
        DeclineReason.INCORRECT_ADDRESS: "The billing address or postal code did not verify.",
        DeclineReason.FRAUD_SUSPECTED: (
            "The issuer or a risk check suspects fraud. Do not tell the customer why."
        ),
        DeclineReason.LOST_OR_STOLEN: (
            "The card is reported lost or stolen. Show the customer a generic decline."
        ),
        DeclineReason.CARD_NOT_SUPPORTED: "The card cannot be used for this kind of purchase.",
        DeclineReason.CURRENCY_NOT_SUPPORTED: "The card cannot be charged in this currency.",
        DeclineReason.RESTRICTED_CARD: (
            "The card may not be used here, or the cardholder stopped or revoked payments to "
            "this merchant."
        ),
        DeclineReason.LIMIT_EXCEEDED: "A credit, velocity or withdrawal-count limit was hit.",
        DeclineReason.DUPLICATE_TRANSACTION: (
            "An identical payment was just submitted; check whether it went through."
        ),
        DeclineReason.AUTHENTICATION_REQUIRED: (
            "The issuer wants cardholder authentication (3-D Secure, a PIN), or it failed: "
            "bring the customer back on-session."
        ),
        DeclineReason.ISSUER_UNAVAILABLE: (
            "The issuer could not be reached or asked for a later attempt."
        ),
        DeclineReason.PROCESSING_ERROR: "An error occurred while the card was processed.",
        DeclineReason.INVALID_AMOUNT: "The issuer rejected the amount.",
        DeclineReason.INVALID_ACCOUNT: (
            "The card or its account is invalid or closed, or has new details."
        ),
        DeclineReason.DO_NOT_HONOR: "The issuer refused and shares no reason.",
        DeclineReason.CALL_ISSUER: "The customer has to contact the card issuer.",
        DeclineReason.TEST_MODE: "A test card in live mode, or a real card in test mode.",
        DeclineReason.UNKNOWN: "No decline code, or one paygate does not know (never guessed).",
    }
)

ADVICE_MEANINGS: Final[Mapping[RetryAdvice, str]] = MappingProxyType(
    {
        RetryAdvice.RETRY_LATER: (
            "The condition may pass: a new attempt later can succeed. Keep retries few and "
            "spread out; card networks cap them."
        ),
        RetryAdvice.UPDATE_PAYMENT_DETAILS: (
            "The customer must act first: correct the details, use another card, or "
            "authenticate. Never repeat with the same data."
        ),
        RetryAdvice.DO_NOT_RETRY: (
            "Do not charge this card again for this payment (networks fine merchants who "
            "repeat hard declines); ask for another payment method."
        ),
        RetryAdvice.UNKNOWN: "No advice; a conservative caller treats it as do-not-retry.",
    }
)


# -- the drawn tree ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DrawnNode:
    name: str
    parent: str | None
    depth: int
    note: str


_TREE_LINE: Final = re.compile(r"^(?P<lead>[│├└─ ]*)(?P<name>[A-Z]\w*)(?:\s{2,}(?P<note>\S.*))?$")


def drawn_tree_text(doc: str | None = None) -> str:
    """The literal block after the first ``::`` in ``paygate.errors``' docstring, dedented."""
    lines = (errors.__doc__ if doc is None else doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip("\n")


def drawn_tree(doc: str | None = None) -> list[DrawnNode]:
    """The nodes of the drawn tree, in drawn order, with their parents."""
    nodes: list[DrawnNode] = []
    stack: list[str] = []
    for line in drawn_tree_text(doc).splitlines():
        match = _TREE_LINE.match(line.rstrip())
        if match is None:
            raise ValueError(f"not a line of the error tree: {line!r}")
        depth = len(match["lead"]) // 4
        del stack[depth:]
        nodes.append(
            DrawnNode(match["name"], stack[-1] if stack else None, depth, match["note"] or "")
        )
        stack.append(match["name"])
    return nodes


# -- rendering ---------------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _code(value: object) -> str:
    return f"`{value}`"


def _first_paragraph(cls: type) -> str:
    """A class docstring's first paragraph on one line, reST literals as Markdown code."""
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")


def _branch_sections() -> Iterator[str]:
    by_name = {cls.__name__: cls for cls in error_classes()}
    nodes = drawn_tree()
    for branch, base in BRANCH_CLASSES.items():
        yield f"### `{base.__name__}`: {branch.value}"
        yield ""
        yield BRANCH_ACTIONS[branch]
        yield ""
        leaves = [
            f"- `{node.name}`: {_first_paragraph(by_name[node.name])}"
            for node in nodes
            if node.parent == base.__name__ and node.name in by_name
        ]
        yield from (*leaves, "") if leaves else ()


def _context_fields() -> str:
    fields = ["code", *ErrorContext.__annotations__]
    extra = [
        name
        for name, p in inspect.signature(CardDeclinedError.__init__).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    return (
        "Every error carries, as attributes: "
        + ", ".join(_code(f) for f in fields)
        + ". A `CardDeclinedError` adds "
        + ", ".join(_code(f) for f in extra[:-1])
        + f" and {_code(extra[-1])}"
        + ". Provider bodies are redacted before they are stored on the error: secret fields"
        " (card number, CVC, keys, signatures) are masked, and so is any card number in a"
        " message or body (`****` and its last 4 digits), a number in a card network's issuer"
        " range whether or not its check digit is right; identifiers outside those ranges,"
        " such as an Adyen `pspReference` (`8816118280275544`), are left as they are."
    )


def _decision_section() -> Iterator[str]:
    yield "## Where the class is decided"
    yield ""
    yield (
        "An adapter never picks an error class. It says what a failed exchange is (a "
        "classification from `paygate.adapters.failures`: declined, the provider's refusal, "
        "rate limited, a provider failure, a schema violation, an answer that is not the "
        "provider's, ...), and the gateway's core decides the class from one table "
        "(`paygate._decision.DECISIONS`), by what only it knows: whether the call mutates, and "
        "how far the request got. Transport failures, unread bodies and integrity mismatches go "
        "through the same table. Each cell reads *a read / a mutating call*."
    )
    yield ""
    rows = [
        (
            _code(kind.value),
            *(
                " / ".join(
                    _code(DECISIONS[kind, mutating, reach].__name__) for mutating in (False, True)
                )
                for reach in Reach
            ),
        )
        for kind in Kind
    ]
    yield from _table(("failure", *(reach.value.replace("_", " ") for reach in Reach)), rows)


def _general_sections() -> Iterator[str]:
    yield "## Normalized codes (`ErrorCode`)"
    yield ""
    yield "The branch column lists every branch an error with that code can arrive under."
    yield ""
    order = list(Branch)
    rows = [
        (
            _code(code.value),
            ", ".join(b.value for b in sorted(branches_of(code), key=order.index)),
            CODE_MEANINGS[code],
        )
        for code in ErrorCode
    ]
    yield from _table(("code", "branch", "meaning"), rows)
    yield "## Decline reasons (`DeclineReason`)"
    yield ""
    yield (
        "On `CardDeclinedError.reason`. The default advice applies when the provider sends no "
        "advice of its own."
    )
    yield ""
    tables = providers()
    header = ("reason", *(f"default advice ({p.name})" for p in tables), "meaning")
    reason_rows = [
        (
            _code(reason.value),
            *(_code(p.reason_advice[reason].value) for p in tables),
            REASON_MEANINGS[reason],
        )
        for reason in DeclineReason
    ]
    yield from _table(header, reason_rows)
    yield "## Retry advice (`RetryAdvice`)"
    yield ""
    yield (
        "On `CardDeclinedError.advice`: whether a *new* attempt (a new idempotency key, later) "
        "makes sense. paygate itself never retries a decline."
    )
    yield ""
    yield from _table(
        ("advice", "meaning"),
        [(_code(advice.value), ADVICE_MEANINGS[advice]) for advice in RetryAdvice],
    )


def _provider_section(p: ProviderErrorTables) -> Iterator[str]:
    yield f"## {p.name}"
    yield ""
    yield (
        f"The normalized code comes from `{p.code_field}` when the table below lists it, else "
        f"from `{p.type_field}`, else it is `unknown`. The decline reason comes from "
        f"`{p.decline_field}`, else from `{p.code_field}`, else it is `unknown`. The advice is "
        f"`{p.advice_field}` when it is known, else the reason's default."
    )
    yield ""
    yield f"### `{p.type_field}`"
    yield ""
    yield from _table(
        (p.type_field, "code"),
        [(_code(k), _code(v.value)) for k, v in sorted(p.error_types.items())],
    )
    yield f"### `{p.code_field}`"
    yield ""
    for name, by_op in sorted(p.operation_overrides.items()):
        for op, code in by_op.items():
            yield f"- `{name}` on a {op.value} becomes {_code(code.value)}."
    if p.operation_overrides:
        yield ""
    code_rows = [
        (
            _code(k),
            _code(v.value),
            _code(p.code_reasons[k].value) if k in p.code_reasons else "",
        )
        for k, v in sorted(p.error_codes.items())
    ]
    yield from _table((p.code_field, "code", "decline reason"), code_rows)
    yield f"### `{p.decline_field}`"
    yield ""
    yield from _table(
        (p.decline_field, "reason", "default advice"),
        [
            (_code(k), _code(v.value), _code(p.reason_advice[v].value))
            for k, v in sorted(p.decline_codes.items())
        ],
    )
    yield f"### `{p.advice_field}`"
    yield ""
    yield from _table(
        (p.advice_field, "advice"),
        [(_code(k), _code(v.value)) for k, v in sorted(p.advice_codes.items())],
    )
    yield "### HTTP statuses whose error object names no code"
    yield ""
    yield (
        "An error status without the provider's error object at all (an HTML page, a "
        "redirect) is `unexpected_response`; a 429 is `rate_limited` and a 5xx "
        "`provider_unavailable` either way."
    )
    yield ""
    yield from _table(
        ("status", "code"),
        [(str(k), _code(v.value)) for k, v in sorted(p.status_codes.items())],
    )


def render_markdown() -> str:
    """The whole of ``docs/errors.md``."""
    lines = [
        "# Errors",
        "",
        f"<!-- Generated by `{COMMAND}` from paygate/errors.py and the providers' mapping "
        "tables. Do not edit by hand. -->",
        "",
        "Every error paygate raises is a `PaymentError`. Its branch says what to do next, so "
        "service code catches a branch, not a leaf, and never the base class alone.",
        "",
        "```text",
        drawn_tree_text(),
        "```",
        "",
        "## What to do with each branch",
        "",
        *_branch_sections(),
        "## What an error carries",
        "",
        _context_fields(),
        "",
        *_decision_section(),
        *_general_sections(),
    ]
    for provider in providers():
        lines.extend(_provider_section(provider))
    return "\n".join(lines).rstrip("\n") + "\n"
