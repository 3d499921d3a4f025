"""``python -m bench [--quick]``: every benchmark in turn (training, inference, failover drill)."""

from __future__ import annotations

import sys

from bench import failover, inference, training


def main(argv: list[str]) -> int:
    quick = ["--quick"] if "--quick" in argv else []
    training.main(quick)
    code = inference.main(quick)
    return failover.main(quick) or code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
