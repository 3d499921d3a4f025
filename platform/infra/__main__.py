"""``python -m infra``: the platform's command line (render; more sub-commands per issue)."""

from infra.cli import app

app()
