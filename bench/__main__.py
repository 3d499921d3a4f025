"""``python -m bench [--quick]``: every benchmark in turn (training, inference, offline stacks,
failover drill)."""

from __future__ import annotations

import sys

from bench import failover, inference, offline, training


def main(argv: list[str]) -> int:
    quick = ["--quick"] if "--quick" in argv else []
    training.main(quick)
    code = inference.main(quick)
    offline.main(quick)
    return failover.main(quick) or code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
