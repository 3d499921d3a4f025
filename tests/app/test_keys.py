from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from app.core.security import ApiKeyAuthenticator, parse_key_entries
from app.keys import cli


def test_keys_command_prints_a_key_and_its_hashed_entry() -> None:
    result = CliRunner().invoke(cli, ["ci", "--role", "predict", "--role", "admin"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.strip().splitlines())
    key, entry = lines["key"].strip(), json.loads(lines["entry"])
    assert entry["name"] == "ci"
    assert key not in lines["entry"]
    authenticator = ApiKeyAuthenticator(parse_key_entries(json.dumps([entry]), "test"))
    assert asyncio.run(authenticator.authenticate(key)).roles == frozenset({"predict", "admin"})


def test_keys_command_refuses_unknown_roles() -> None:
    result = CliRunner().invoke(cli, ["ci", "--role", "root"])
    assert result.exit_code != 0
