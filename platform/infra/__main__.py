"""``python -m infra``: see :mod:`infra.cli`."""

from infra.cli import app

app(prog_name="python -m infra")
