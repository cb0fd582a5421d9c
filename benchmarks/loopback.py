"""Against the official SDKs, same server: one authorize + capture (two HTTP calls in sequence)
through paygate's adapters, through the official ``stripe`` / ``Adyen`` packages and through a
bare ``httpx.Client`` doing the same exchange by hand, all against one simulator on loopback
(a real HTTP/1.1 server, ``ThreadingHTTPServer``, in this process), interleaved per the harness.

Fairness settings: the ``stripe`` client has its network retries off (``max_network_retries=0``)
and its telemetry off (``stripe.enable_telemetry = False``), and pins paygate's API version; it
keeps its connection alive (``requests`` with a per-thread ``Session``). The ``Adyen`` library
is pointed at the simulator by setting each Checkout service's ``baseUrl``; it sends through
``requests.request``, a new ``Session`` per call, so it opens a new TCP connection for every
call: that is how the library behaves, and it is measured as it is. paygate and bare httpx
keep one connection alive.

The official SDKs are the ``bench`` extra (``pip install paygate[bench]``); without it their
rows say they were skipped.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks import _stripe_bare as bare
from benchmarks._harness import Stats, run_interleaved
from paygate import Gateway, PaymentSource, PaymentStatus
from paygate.adapters.stripe import API_VERSION
from paygate.testing import AdyenSimulator, StripeSimulator

STRIPE_KEY = "sk_test_bench_0000000000000000"
ADYEN_KEY = "bench-adyen-api-key"
CARD = PaymentSource.card("4111111145551142", 3, 2030, "737", holder_name="APPROVED")
SKIPPED = "not installed"

PAYGATE = "paygate Gateway"
BARE = "bare httpx.Client"


@dataclass(frozen=True)
class Contender:
    name: str
    stats: Stats | None  # None: skipped
    note: str = ""


@dataclass(frozen=True)
class LoopbackResult:
    provider: str
    contenders: list[Contender]

    def stats(self, name: str) -> Stats | None:
        return next((c.stats for c in self.contenders if c.name == name), None)

    def ratio(self, name: str) -> float | None:
        """paygate's median over ``name``'s."""
        ours, theirs = self.stats(PAYGATE), self.stats(name)
        if ours is None or theirs is None:
            return None
        return ours.median / theirs.median


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _expect(ok: bool, what: object) -> None:
    if not ok:
        raise AssertionError(f"unexpected answer: {what!r}")


# -- Stripe ------------------------------------------------------------------------------------
def _official_stripe(url: str) -> Callable[[int], None]:
    import stripe  # noqa: PLC0415 (the bench extra: optional)

    stripe.enable_telemetry = False
    client = stripe.StripeClient(
        STRIPE_KEY,
        base_addresses={"api": url},
        max_network_retries=0,
        stripe_version=API_VERSION,
    )

    def call(n: int) -> None:
        intent = client.v1.payment_intents.create(
            params={
                "amount": 1234,
                "currency": "eur",
                "confirm": True,
                "capture_method": "manual",
                "payment_method_types": ["card"],
                "metadata": {"reference": f"loop-stripe-{n}"},
                "expand": ["latest_charge"],
                "payment_method": "pm_card_visa",
            },
            options={"idempotency_key": f"stripe-auth-{n}"},
        )
        _expect(intent.status == "requires_capture", intent.status)
        captured = client.v1.payment_intents.capture(
            intent.id,
            params={"expand": ["latest_charge"]},
            options={"idempotency_key": f"stripe-capture-{n}"},
        )
        _expect(captured.status == "succeeded", captured.status)

    return call


def stripe_loopback(*, rounds: int, per_round: int) -> LoopbackResult:
    with (
        StripeSimulator() as sim,
        Gateway.for_stripe(STRIPE_KEY, base_url=sim.url) as gw,
        httpx.Client(base_url=sim.url) as client,
    ):

        def through_paygate(n: int) -> None:
            p = gw.authorize(bare.AMOUNT, source=bare.VISA, reference=f"loop-pg-{n}")
            _expect(p.status is PaymentStatus.AUTHORIZED, p.status)
            c = gw.capture(p.id)
            _expect(c.status is PaymentStatus.CAPTURED, c.status)

        def bare_httpx(n: int) -> None:
            r = client.post(
                "/v1/payment_intents",
                data=bare.authorize_form(f"loop-bare-{n}"),
                headers=bare.headers(STRIPE_KEY, f"a-{n}"),
            )
            r.raise_for_status()
            intent = r.json()
            _expect(intent["status"] == "requires_capture", intent["status"])
            r = client.post(
                f"/v1/payment_intents/{intent['id']}/capture",
                data={"expand[0]": "latest_charge"},
                headers=bare.headers(STRIPE_KEY, f"c-{n}"),
            )
            r.raise_for_status()
            captured = r.json()
            _expect(captured["status"] == "succeeded", captured["status"])

        contenders: dict[str, Callable[[int], None]] = {PAYGATE: through_paygate, BARE: bare_httpx}
        official = "stripe.StripeClient"
        if installed("stripe"):
            contenders[official] = _official_stripe(sim.url)
        stats = run_interleaved(contenders, rounds=rounds, per_round=per_round)
    rows = [Contender(name, s) for name, s in stats.items()]
    if official not in stats:
        rows.append(Contender(official, None, SKIPPED))
    return LoopbackResult("Stripe", rows)


# -- Adyen -------------------------------------------------------------------------------------
def _adyen_payment(merchant: str, reference: str) -> dict[str, Any]:
    return {
        "merchantAccount": merchant,
        "amount": {"value": 1234, "currency": "EUR"},
        "reference": reference,
        "paymentMethod": {
            "type": "scheme",
            "number": "4111111145551142",
            "expiryMonth": "03",
            "expiryYear": "2030",
            "cvc": "737",
            "holderName": "APPROVED",
        },
        "additionalData": {"manualCapture": "true"},
    }


def _adyen_capture(merchant: str) -> dict[str, Any]:
    return {"merchantAccount": merchant, "amount": {"value": 1234, "currency": "EUR"}}


def _official_adyen(base_url: str, merchant: str) -> Callable[[int], None]:
    import Adyen  # noqa: PLC0415 (the bench extra: optional)

    adyen = Adyen.Adyen(xapikey=ADYEN_KEY, platform="test")
    checkout = adyen.checkout
    # The library's endpoints are per-service attributes; point both services we use here.
    checkout.payments_api.baseUrl = base_url
    checkout.modifications_api.baseUrl = base_url

    def call(n: int) -> None:
        paid = checkout.payments_api.payments(
            _adyen_payment(merchant, f"loop-adyen-{n}"), idempotency_key=f"adyen-auth-{n}"
        ).message
        _expect(paid["resultCode"] == "Authorised", paid)
        captured = checkout.modifications_api.capture_authorised_payment(
            _adyen_capture(merchant), paid["pspReference"], idempotency_key=f"adyen-cap-{n}"
        ).message
        _expect(captured["status"] == "received", captured)

    return call


def adyen_loopback(*, rounds: int, per_round: int) -> LoopbackResult:
    with AdyenSimulator() as sim:
        base_url = f"{sim.url}/v71"
        merchant = sim.merchant_account
        with (
            Gateway.for_adyen(
                ADYEN_KEY, merchant_account=merchant, base_url=base_url, hmac_key=sim.hmac_key
            ) as gw,
            httpx.Client(base_url=base_url, headers={"X-API-Key": ADYEN_KEY}) as client,
        ):

            def through_paygate(n: int) -> None:
                p = gw.authorize(bare.AMOUNT, source=CARD, reference=f"loop-pg-{n}")
                _expect(p.status is PaymentStatus.AUTHORIZED, p.status)
                c = gw.capture(p.id)  # Adyen answers "received": pending until processed
                _expect(c.status is PaymentStatus.PENDING, c.status)

            def bare_httpx(n: int) -> None:
                r = client.post(
                    "/payments",
                    content=json.dumps(_adyen_payment(merchant, f"loop-bare-{n}")),
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"a-{n}"},
                )
                r.raise_for_status()
                paid = r.json()
                _expect(paid["resultCode"] == "Authorised", paid)
                r = client.post(
                    f"/payments/{paid['pspReference']}/captures",
                    content=json.dumps(_adyen_capture(merchant)),
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"c-{n}"},
                )
                r.raise_for_status()
                _expect(r.json()["status"] == "received", r.text)

            contenders: dict[str, Callable[[int], None]] = {
                PAYGATE: through_paygate,
                BARE: bare_httpx,
            }
            official = "Adyen (new connection per call)"
            if installed("Adyen"):
                contenders[official] = _official_adyen(base_url, merchant)
            stats = run_interleaved(contenders, rounds=rounds, per_round=per_round)
    rows = [Contender(name, s) for name, s in stats.items()]
    if official not in stats:
        rows.append(Contender(official, None, SKIPPED))
    return LoopbackResult("Adyen", rows)
