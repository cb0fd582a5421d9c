"""A process killed while its request is at the provider loses nothing: the intent it wrote
before sending is on the record store, listed as an unknown outcome once its lease ends, and
settled by the provider's replay of the same request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paygate import Gateway, IdempotencyPolicy, PaymentStatus, SQLiteStore, Timeout
from paygate.records import SQLiteRecordStore
from paygate.testing import Fault, StripeSimulator

LEASE = 2.0  # the killed call's intent is an unknown outcome this long after it was written

_CHILD = textwrap.dedent(
    """
    import sys
    from paygate import Gateway, IdempotencyPolicy, Money, PaymentSource, SQLiteStore, Timeout
    from paygate.records import SQLiteRecordStore

    url, path, lease = sys.argv[1], sys.argv[2], float(sys.argv[3])
    gw = Gateway.for_stripe(
        "sk_test_killed", base_url=url, store=SQLiteStore(path), records=SQLiteRecordStore(path),
        timeout=Timeout(read=lease - 0.5, total=lease - 0.5),
        idempotency=IdempotencyPolicy(lease=lease),
    )
    gw.purchase(Money("7.00", "EUR"), source=PaymentSource.token("pm_card_visa"),
                reference="order-killed", metadata={"cart": "k-1"})
    """
)


def test_a_call_killed_at_the_provider_is_listed_after_its_lease_and_settled(
    sim: StripeSimulator, tmp_path: Path
) -> None:
    path = tmp_path / "paygate.sqlite3"
    sim.inject(Fault.timeout_after_commit(hold=5.0), method="POST")  # Stripe charges, then waits
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, sim.url, str(path), str(LEASE)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 10
        while not sim.payment_intents(reference="order-killed"):
            assert time.monotonic() < deadline and child.poll() is None, "the child never paid"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)  # dead while Stripe holds its answer
    finally:
        child.wait(10)
    written = datetime.now(UTC)

    store, records = SQLiteStore(path), SQLiteRecordStore(path)
    options = {"timeout": Timeout(total=1.0), "idempotency": IdempotencyPolicy(lease=LEASE)}
    with Gateway.for_stripe("sk_test_killed", base_url=sim.url, store=store, records=records,
                            **options) as gw:  # fmt: skip
        [intent] = records.intents()  # what the dead process wrote before sending
        assert intent.reference == "order-killed" and intent.request is not None
        assert intent.request["metadata"] == {"cart": "k-1"}
        while datetime.now(UTC) < intent.lease_until:
            assert gw.unknown_payments() == []  # in flight, as far as anyone can tell
            time.sleep(0.1)
        [record] = gw.unknown_payments()
        [unknown] = record.unknown
        assert record.status is PaymentStatus.UNKNOWN and unknown.idempotency_key
        assert unknown.reason is not None and "ended without recording" in unknown.reason
        assert records.intents() == []

        [resolution] = gw.resolve_unknown(due_by=written + timedelta(hours=1))
        assert resolution.settled and resolution.detail == "settled: captured"
        [paid] = sim.payment_intents(reference="order-killed")  # one charge, replayed
        settled = gw.payment_record(paid["id"])
        assert settled is not None and settled.record_id == record.record_id
        assert settled.status is PaymentStatus.CAPTURED and gw.unknown_payments() == []
        assert records.verify() is None
    store.close()
    records.close()
