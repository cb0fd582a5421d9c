"""The PostgreSQL record store's asyncio face (``records_for_asyncio``): the calls on
``AsyncGateway``'s path of every mutating call (the guard's read, the intent before the
request, the outcome after it) on psycopg's asyncio pool, side by side with the blocking
store's own calls on the same rows."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from paygate import AsyncGateway, Gateway, Money, PaymentSource, PaymentStatus
from paygate.records.postgres import PostgresRecordStore
from paygate.testing import Fault, StripeSimulator

VISA = PaymentSource.token("pm_card_visa")
TEN = Money("10.00", "EUR")


def test_concurrent_refunds_through_both_faces_each_land_once_on_an_intact_chain(
    postgres_conninfo: str, sim: StripeSimulator, api_key: str
) -> None:
    """Twenty refunds of one payment at once, ten from asyncio tasks (the face) and ten from
    threads (the blocking store), on the same row: each is applied once, in turn, and the
    record's hash chain stays whole."""
    records = PostgresRecordStore(postgres_conninfo, pool_size=6)
    options: dict[str, Any] = {"records": records, "base_url": sim.url}
    try:
        with Gateway.for_stripe(api_key, **options) as gw:
            paid = gw.purchase(Money("20.00", "EUR"), source=VISA, reference="order-faces")
            assert paid.status is PaymentStatus.CAPTURED

            def blocking(n: int) -> None:
                gw.refund(paid.id, amount=Money("1.00", "EUR"), reference=f"t-{n}")

            async def tasks() -> None:
                async with AsyncGateway.for_stripe(api_key, **options) as agw:
                    await asyncio.gather(*(
                        agw.refund(paid.id, amount=Money("1.00", "EUR"), reference=f"a-{n}")
                        for n in range(10)
                    ))  # fmt: skip

            threads = [threading.Thread(target=blocking, args=(n,)) for n in range(10)]
            for thread in threads:
                thread.start()
            asyncio.run(tasks())
            for thread in threads:
                thread.join()
            record = gw.payment_record(paid.id)
        assert record is not None and record.amount_refunded == Money("20.00", "EUR")
        assert len(records.trail(record.record_id)) == 1 + 20  # the purchase, then each refund
        assert records.verify() is None
    finally:
        records.close()


def test_the_face_writes_the_intent_while_the_request_is_out_and_its_outcome_clears_it(
    postgres_conninfo: str, sim: StripeSimulator, api_key: str
) -> None:
    """While an asyncio call's request is at the provider, its intent is on the shared rows
    (a blocking reader lists it); its outcome clears it in the same transaction; the record
    it wrote is what the blocking store reads."""
    records = PostgresRecordStore(postgres_conninfo, pool_size=2)
    sim.inject(Fault.latency(0.5))
    listed: list[int] = []

    async def main() -> str:
        async with AsyncGateway.for_stripe(api_key, base_url=sim.url, records=records) as agw:
            call = asyncio.ensure_future(agw.authorize(TEN, source=VISA, reference="order-intent"))
            await asyncio.sleep(0.25)  # the request is at the provider
            listed.append(len(await asyncio.to_thread(records.intents)))
            return (await call).id

    try:
        payment_id = asyncio.run(main())
        assert listed == [1]
        assert records.intents() == []
        record = records.find("stripe", payment_id)
        assert record is not None and record.status is PaymentStatus.AUTHORIZED
        assert records.verify() is None
    finally:
        records.close()
