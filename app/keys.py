"""``python -m app.keys NAME --role predict [--role admin]``: a new API key and its hashed entry.

Prints the key once (give it to the client) and the JSON entry for ``STRATUS_API_KEYS_FILE``
(store only the entry; the service never sees the plain key at rest).
"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from app.core.security import new_key_entry

cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    name: Annotated[str, typer.Argument(help="who the key is for, e.g. ci or dashboard")],
    role: Annotated[list[str], typer.Option(help="predict and/or admin")] = ["predict"],  # noqa: B006
) -> None:
    key, entry = new_key_entry(name, role)
    typer.echo(f"key:   {key}")
    typer.echo(f"entry: {orjson.dumps(entry).decode()}")


if __name__ == "__main__":
    cli()
