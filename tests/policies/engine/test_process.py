"""The pack process: started as the engine starts it, a clear error when it cannot start or
crashes on a resource, and always stopped."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pulumi_aws as aws
import pytest

from policies.engine.check import PACK_DIR, PackSession
from policies.engine.process import PackError, PackLaunch
from tests.policies.harness import register

VENV = Path(sys.prefix)


def _pack(tmp_path: Path, main: str, virtualenv: str | None = None) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    venv = virtualenv if virtualenv is not None else str(VENV)
    (pack / "PulumiPolicy.yaml").write_text(
        f"runtime:\n  name: python\n  options:\n    virtualenv: {venv}\n"
    )
    (pack / "__main__.py").write_text(main)
    return pack


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_engine_command_line_and_environment() -> None:
    launch = PackLaunch(PACK_DIR, "127.0.0.1:5", "org", "stratus", "aws-dev", {"aws:region": "x"})
    command = launch.command()
    assert command[0] == str((PACK_DIR / "../../.venv").resolve() / "bin" / "python")
    assert command[1:] == ["-u", "-m", "pulumi.policy", "127.0.0.1:5", "."]
    env = launch.environment()
    assert env["PULUMI_STACK"] == "aws-dev"
    assert env["PULUMI_PROJECT"] == "stratus"
    assert env["PULUMI_ORGANIZATION"] == "org"
    assert env["PULUMI_DRY_RUN"] == "true"
    assert env["PULUMI_CONFIG"] == '{"aws:region": "x"}'


def test_a_successful_check_stops_the_pack() -> None:
    run = register(lambda: aws.s3.Bucket("b"))
    with PackSession("aws-dev") as session:
        pid = session.pack.pid
        assert session.pack.alive()
        session.judge(run)
    assert _gone(pid)


def test_a_pack_that_fails_to_start_is_a_clear_error(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "raise RuntimeError('this pack is broken on purpose')\n")
    with PackSession("aws-dev", pack_dir=pack) as session, pytest.raises(PackError) as caught:
        session.ready()
    assert "exited (code 1) before serving" in str(caught.value)
    assert "this pack is broken on purpose" in str(caught.value)


def test_a_missing_virtualenv_is_a_clear_error(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "", virtualenv="no-such-venv")
    session = PackSession("aws-dev", pack_dir=pack)
    with pytest.raises(PackError, match="doesn't appear to be a virtual environment"):
        session.__enter__()


CRASHING_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

def explode(args, report_violation):
    if args.resource_type == "aws:s3/bucket:Bucket":
        raise ValueError("exploded on purpose")

PolicyPack(
    name="crashing",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="explode", description="explodes", validate=explode)],
)
"""


def test_a_pack_crashing_on_a_resource_is_a_clear_error_and_is_stopped(tmp_path: Path) -> None:
    pack = _pack(tmp_path, CRASHING_PACK)
    run = register(lambda: aws.s3.Bucket("boom"))
    with PackSession("aws-dev", pack_dir=pack) as session:
        pid = session.pack.pid
        with pytest.raises(PackError) as caught:
            session.judge(run)
    assert "the policy pack failed analysing urn:pulumi:aws-dev::stratus::" in str(caught.value)
    assert "aws:s3/bucket:Bucket::boom" in str(caught.value)
    assert "exploded on purpose" in str(caught.value)
    assert _gone(pid)
