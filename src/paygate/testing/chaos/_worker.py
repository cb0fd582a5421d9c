"""A kill run's worker process: runs its provider's orders from the one it was in when it was
last killed. It starts that one again under the same keys, as a restarted service would, or
(every other time, by the seed) abandons it, as a service whose caller gave up would: then only
its intents, on the stores, say what it may have done.

``python -m paygate.testing.chaos._worker PROVIDER URL SECRET STORES WORKDIR FLOWS SEED DEADLINE``
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from paygate.gateway import Gateway
from paygate.testing.chaos._flows import Injector, Tally, run_flow
from paygate.testing.chaos._plans import Provider, plans
from paygate.testing.chaos._run import ADYEN_PREFIX, connect, gateway_options
from paygate.testing.chaos._stores import open_stores


def main(argv: list[str]) -> int:
    provider_name, url, secret, stores, workdir, flows, seed, deadline = argv
    provider: Provider = "stripe" if provider_name == "stripe" else "adyen"
    progress = Path(workdir) / f"kill-{provider}.progress"
    start = int(progress.read_text()) if progress.exists() else 0
    if progress.exists() and random.Random(f"{seed}:{provider}:{start}").random() < 0.5:
        start += 1  # the order it was killed in is abandoned
    store, records = open_stores(stores, Path(workdir), provider)
    options = gateway_options(float(deadline)) | {"store": store, "records": records}
    tally = Tally()
    quiet = Injector(None, 0.0, float(deadline), int(seed), tally)
    prefix = ADYEN_PREFIX if provider == "adyen" else ""
    with connect(Gateway, provider, url, secret, **options) as gw:
        print("ready", flush=True)  # from here on, a kill lands in the orders
        for index, plan in enumerate(plans(provider, int(flows), int(seed), "kill")):
            if index < start:
                continue
            _note(progress, index)  # the order in progress, for the next start to find
            run_flow(gw, plan, quiet, tally, prefix=prefix)
        _note(progress, int(flows))
    return 0


def _note(progress: Path, index: int) -> None:
    written = progress.with_suffix(".next")
    written.write_text(str(index))
    os.replace(written, progress)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
