"""``python -m bench [--quick]``: every benchmark in turn (training, then inference)."""

from __future__ import annotations

import sys

from bench import inference, training


def main(argv: list[str]) -> int:
    quick = ["--quick"] if "--quick" in argv else []
    training.main(quick)
    return inference.main(quick)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
