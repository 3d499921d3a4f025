"""Shard addressing (``--shard I/N`` or the Indexed Job's environment), search ids, the slices, and
the sharded CLI's refusals; plus shard 0 finalizing with ``--finalize-wait`` on a local store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.conftest import invoke, unique_name, write_config
from training.errors import ConfigError
from training.shards import Shard, check_search_id, parse_shard, resolve_shard, shard_of

SEARCH = {"model": {"search": {"kind": "grid", "space": {"C": [0.1, 1.0, 10.0]}, "cv": 2}}}


def test_shard_from_the_flag_or_the_indexed_jobs_environment() -> None:
    assert parse_shard("2/5") == Shard(2, 5)
    assert resolve_shard("0/1", {"JOB_COMPLETION_INDEX": "3"}) == Shard(0, 1)  # the flag wins
    env = {"JOB_COMPLETION_INDEX": "3", "STRATUS_TRAINING_SHARD_COUNT": "4"}
    assert resolve_shard(None, env) == Shard(3, 4)
    assert resolve_shard(None, {}) is None


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        ("3/3", {}, r"--shard: the shard index must be in 0\.\.2 \(got 3\)"),
        ("1/0", {}, r"--shard: the shard count must be at least 1"),
        ("one/3", {}, r"--shard: expected I/N"),
        (None, {"JOB_COMPLETION_INDEX": "1"}, r"STRATUS_TRAINING_SHARD_COUNT is not"),
        (None, {"STRATUS_TRAINING_SHARD_COUNT": "2"}, r"JOB_COMPLETION_INDEX is not"),
        (
            None,
            {"JOB_COMPLETION_INDEX": "x", "STRATUS_TRAINING_SHARD_COUNT": "2"},
            r"JOB_COMPLETION_INDEX: expected an integer",
        ),
        (
            None,
            {"JOB_COMPLETION_INDEX": "2", "STRATUS_TRAINING_SHARD_COUNT": "2"},
            r"JOB_COMPLETION_INDEX/STRATUS_TRAINING_SHARD_COUNT: the shard index must be in 0\.\.1",
        ),
    ],
)
def test_bad_shard_addresses_are_refused(
    flag: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_shard(flag, env)


def test_the_slices_cover_every_trial_once() -> None:
    for count in (1, 2, 3, 7, 20):
        slices = [list(Shard(i, count).positions(12)) for i in range(count)]
        assert sorted(p for s in slices for p in s) == list(range(12))
        for index, positions in enumerate(slices):
            assert all(shard_of(p, count) == index for p in positions)


def test_search_ids() -> None:
    assert check_search_id("training-29345671") == "training-29345671"
    with pytest.raises(ConfigError, match="--search-id is required"):
        check_search_id(None)
    with pytest.raises(ConfigError, match="must be 1-100 letters"):
        check_search_id("x' or '1'='1")


def test_cli_refusals(workspace: Path) -> None:
    config = str(write_config(workspace, SEARCH))
    orphan = invoke(["run", "--config", config, "--search-id", "s1"])
    assert orphan.exit_code == 1
    assert "--search-id/--finalize-wait need --shard I/N" in orphan.output
    no_id = invoke(["run", "--config", config, "--shard", "0/2"])
    assert no_id.exit_code == 1
    assert "--search-id is required" in no_id.output
    single = write_config(workspace, {"model": {"search": {"kind": "none", "space": {}}}})
    nothing = invoke(["run", "--config", str(single), "--shard", "0/2", "--search-id", "s1"])
    assert nothing.exit_code == 1
    assert "a sharded search needs a search with several candidates" in nothing.output


def test_shard_zero_finalizes_and_a_changed_config_is_refused(workspace: Path) -> None:
    name, search_id = unique_name(), unique_name("search")
    config = str(write_config(workspace, {**SEARCH, "registry": {"model_name": name}}))
    shard = ["run", "--config", config, "--search-id", search_id]
    for index in (1, 2):
        assert invoke([*shard, "--shard", f"{index}/3"]).exit_code == 0
    # Another seed means other folds: its trials cannot join this search.
    other = invoke([*shard, "--shard", "0/3", "--seed", "7"])
    assert other.exit_code == 1
    assert f"search {search_id!r} was started with other data or another config" in other.output
    wrong_count = invoke([*shard, "--shard", "0/2"])
    assert wrong_count.exit_code == 1
    assert "was started with 3 shards, not 2" in wrong_count.output

    last = invoke([*shard, "--shard", "0/3", "--finalize-wait", "30"])
    assert last.exit_code == 0, last.output
    assert "shard 0/3: 2 trial(s) run, 0 already logged" in last.output
    assert f"Registered model: {name} version 1 (aliases: champion)" in last.output
