"""``python -m bench [--quick]``: every benchmark in turn (training, inference, offline stacks)."""

from __future__ import annotations

import sys

from bench import inference, offline, training


def main(argv: list[str]) -> int:
    quick = ["--quick"] if "--quick" in argv else []
    training.main(quick)
    status = inference.main(quick)
    offline.main(quick)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
