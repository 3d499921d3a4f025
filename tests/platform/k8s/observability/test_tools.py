"""The tool lookup never silently skips in CI: a missing tool skips on a developer's machine and
fails when ``STRATUS_CI=1`` (``.ci/run`` sets it after installing the Debian packages)."""

from __future__ import annotations

import pytest

from tests.platform.k8s.observability.conftest import tool


def test_a_missing_tool_skips_on_a_developers_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("STRATUS_CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install prometheus"):
        tool("promtool")


def test_a_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("STRATUS_CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must have it"):
        tool("amtool")
