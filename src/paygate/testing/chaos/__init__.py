"""Chaos runs against the provider simulators: the proof that no payment is lost whatever the
provider, the network or the process does (paygate's own ``make test`` runs a small one,
``make chaos`` a large one; run one against your own store settings the same way).

* ``run_chaos(ChaosConfig(...))``: many orders at once per provider, through a blocking and an
  asyncio gateway, with every fault kind the simulators have, cancellations, and webhooks late,
  shuffled and repeated; then everything unknown is settled and the provider's ledger audited.
* ``run_kills(KillConfig(...))``: orders run by worker processes that are SIGKILLed at random
  points and restarted (a restarted worker repeats the order it was in, under the same keys),
  on SQLite or PostgreSQL stores; then the same settling and audit.

Each returns reports whose ``Findings`` count double charges, double refunds, payments,
captures, voids and refunds the provider made that paygate neither records nor lists as
unknown, wrong amounts, and what is still open after settling: all must be zero.
"""

from paygate.testing.chaos._audit import Findings
from paygate.testing.chaos._kill import KillConfig, run_kills
from paygate.testing.chaos._run import ChaosConfig, ChaosReport, run_chaos

__all__ = ["ChaosConfig", "ChaosReport", "Findings", "KillConfig", "run_chaos", "run_kills"]
