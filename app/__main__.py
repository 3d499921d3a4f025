"""``python -m app``: run the service under uvicorn (uvloop + httptools, one worker per process)."""

from __future__ import annotations

import signal
import sys

from pydantic import ValidationError

from app.core.config import get_settings
from app.core.security import ConfigError
from app.main import app_from_environment
from app.model.source import ModelSourceError
from app.server import run


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> int:
    try:
        settings = get_settings()
        application = app_from_environment()
    except (ValidationError, ConfigError, ModelSourceError) as exc:
        print(f"stratus: invalid configuration: {exc}", file=sys.stderr)
        return 2
    # uvicorn re-raises SIGTERM after its graceful shutdown; exit 0 then, not "killed by signal"
    signal.signal(signal.SIGTERM, _exit_cleanly)
    run(application, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
