"""``python -m monitoring.serve``: Daphne, with the same arguments, whose access log has
the vendor credentials of query strings redacted (``monitoring.redaction``)."""

from __future__ import annotations

import daphne.cli

from monitoring.redaction import RedactingAccessLog


def main() -> None:
    daphne.cli.AccessLogGenerator = RedactingAccessLog
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
