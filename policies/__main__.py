"""``python -m policies`` (see ``policies.cli``)."""

from policies.cli import app

app(prog_name="python -m policies")
