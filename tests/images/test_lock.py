"""The images' locked requirements agree with pyproject.toml.

``make lock`` resolves pyproject.toml afresh (one universal ``uv lock`` against PyPI as of the
Makefile's LOCK_DATE) and exports each image's extra with hashes. Regenerating into a scratch
directory must reproduce the committed files exactly: a dependency added, removed or re-ranged in
pyproject.toml without ``make lock`` fails here. Needs PyPI (CI reaches it).
"""

from __future__ import annotations

import difflib
import re
import subprocess
from pathlib import Path

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.timeout(600)

LOCKS = ("app/requirements.txt", "training/requirements.txt")


def test_committed_locks_match_a_fresh_lock_of_pyproject(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "lock", f"LOCK_DIR={tmp_path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for lock in LOCKS:
        committed = (ROOT / lock).read_text().splitlines(keepends=True)
        fresh = (tmp_path / lock).read_text().splitlines(keepends=True)
        diff = "".join(difflib.unified_diff(committed, fresh, lock, f"fresh {lock}", n=1))
        assert committed == fresh, f"{lock} is stale: run `make lock`\n{diff[:4000]}"


def _pins(lock: str) -> dict[str, set[str]]:
    """Package → its pinned versions (one per environment marker, e.g. numpy by Python version)."""
    pins: dict[str, set[str]] = {}
    text = (ROOT / lock).read_text()
    for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\\\n]+?) *\\$", text, re.MULTILINE):
        pins.setdefault(name.lower(), set()).add(version)
    return pins


def test_every_requirement_is_pinned_with_hashes() -> None:
    for lock in LOCKS:
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text().split("\n", 3)[3])
        for entry in entries:
            if entry.strip() and not entry.startswith("#"):
                assert re.match(r"[A-Za-z0-9_.-]+==", entry), entry[:200]
                assert "--hash=sha256:" in entry, entry[:200]


def test_shared_packages_have_one_version_across_images() -> None:
    """A model trained in the training image is unpickled by the inference image: the libraries
    both carry (scikit-learn, numpy, cloudpickle, mlflow, ...) must be the same versions."""
    service, training = _pins(LOCKS[0]), _pins(LOCKS[1])
    shared = service.keys() & training.keys()
    assert {"scikit-learn", "cloudpickle", "mlflow-skinny", "pandas"} <= shared
    differing = {name for name in shared if service[name] != training[name]}
    assert differing == set()
    assert "mlflow" not in service  # the service carries the client only (mlflow-skinny)
    assert training["mlflow"] == training["mlflow-skinny"]
