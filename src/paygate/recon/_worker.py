"""One span of a report, read and staged by a process of its own (private): what
``paygate.recon._parallel`` starts, ``python -m paygate.recon._worker JOB`` with the job as
JSON. It writes JSON lines to its standard output: ``{"read": N}`` now and then (characters
read, for a progress bar), then ``{"count": N}`` (entries staged) or ``{"refused": [source,
line, message]}`` (the first row it will not read)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from paygate.recon._csvfile import Format, Span, read_report
from paygate.recon._staging import entry_file
from paygate.recon.adyen import ACCOUNTING_REPORT, DETAILS_REPORT
from paygate.recon.entries import ReportError
from paygate.recon.stripe import ITEMIZED_REPORT

FORMATS: Final[dict[str, Format]] = {
    report.name: report for report in (ITEMIZED_REPORT, DETAILS_REPORT, ACCOUNTING_REPORT)
}


def _say(message: dict[str, object]) -> None:
    print(json.dumps(message), flush=True)


def main(job: dict[str, Any]) -> None:
    start, end, first_line = job["span"]
    writer = entry_file(Path(job["out"]), int(job["first"]))
    try:
        for entry in read_report(
            Path(job["path"]),
            FORMATS[job["format"]],
            progress=lambda read: _say({"read": read}),
            span=Span(start, end, first_line),
        ):
            writer.write(entry)
    except ReportError as exc:
        _say({"refused": [exc.source, exc.line, exc.message]})
        return
    finally:
        writer.close()
    _say({"count": writer.count})


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
