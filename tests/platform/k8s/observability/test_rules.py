"""The rules every ``-apps`` stack deploys, proven with Prometheus's own ``promtool``: every
rendered rule file passes ``promtool check rules``, and ``promtool test rules`` unit tests
(series in, alerts out) cover every alert, each burn-rate window pair included, with healthy and
near-miss series that must not alert."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.k8s.observability.config import AlertsConfig, SloConfig, seconds
from infra.k8s.observability.rules import alert_names
from infra.offline import StackRun, run_stack
from tests.platform.k8s.observability.conftest import plain, rule_files, run_tool

SLO = SloConfig()
ALERTS = AlertsConfig()
#: The shipped stacks keep the SLO and alert defaults; the expectations below are computed from
#: them (a stack that overrides them gets its own rules, tested in test_stack_variants.py).
SCORING = {"route": "/predict", "method": "POST", "namespace": "ml-api", "pod": "ml-api-blue-1"}
REQUESTS_PER_MINUTE = 1000
MINUTES_3D = 3 * 24 * 60
#: Rules over three days of series are evaluated every 5 minutes (every minute costs 5x the time,
#: and the scenarios end on an evaluation).
EVALUATE_BURN = "5m"


# --- promtool check rules -----------------------------------------------------------------------


def test_promtool_checks_every_rendered_rule_file(
    stack: StackRun, promtool: str, tmp_path: Path
) -> None:
    files = rule_files(stack, tmp_path)
    assert set(files) == {"ml-api-slo", "ml-platform-alerts"}
    for path in files.values():
        result = run_tool([promtool, "check", "rules", str(path)])
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_promtool_check_rejects_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """A control: the same check fails on a broken copy of a real rule."""
    files = rule_files(run_stack("aws-dev-apps"), tmp_path)
    document = yaml.safe_load(files["ml-platform-alerts"].read_text())
    document["groups"][0]["rules"][0]["expr"] = "sum by (pod (up)"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    result = run_tool([promtool, "check", "rules", str(broken)])
    assert result.returncode != 0


# --- promtool test rules -------------------------------------------------------------------------


@dataclass
class Case:
    """One ``promtool test rules`` test: input series and the alerts expected at one time."""

    name: str
    series: dict[str, str]
    eval_time: str
    #: alertname → expected label sets (beyond the rule's labels, which are added).
    expected: dict[str, list[dict[str, str]]]
    interval: str = "1m"
    values: dict[str, float] = field(default_factory=dict)
    evaluation_interval: str = "1m"


def _labels(metric: str, /, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{inner}}}"


def _counter(parts: list[tuple[int, float]]) -> str:
    """A counter growing by ``increment`` a minute for each (minutes, increment) part, in
    promtool's expanding notation (one value a minute, starting at 0)."""
    segments = []
    value = 0.0
    for index, (minutes, increment) in enumerate(parts):
        start = value if index == 0 else value + increment
        segments.append(f"{_num(start)}+{_num(increment)}x{minutes - 1}")
        value = start + increment * (minutes - 1)
    return " ".join(segments)


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _slo_series(slo: str, *parts: tuple[int, float]) -> dict[str, str]:
    """Series that make ``slo``'s error ratio follow ``parts`` (minutes, bad ratio), at
    1000 requests a minute."""
    good = _counter([(m, REQUESTS_PER_MINUTE * (1 - r)) for m, r in parts])
    bad = _counter([(m, REQUESTS_PER_MINUTE * r) for m, r in parts])
    if slo == "availability":
        return {
            _labels("stratus_requests_total", **SCORING, status="200"): good,
            _labels("stratus_requests_total", **SCORING, status="500"): bad,
        }
    # Latency: every request succeeds; the bad ones are slower than the threshold.
    every = _counter([(m, REQUESTS_PER_MINUTE) for m, _ in parts])
    bucket = "stratus_request_duration_seconds_bucket"
    return {
        _labels(bucket, **SCORING, status="200", le="0.1"): good,
        _labels("stratus_request_duration_seconds_count", **SCORING, status="200"): every,
    }


def _budget(slo: str) -> float:
    return 1 - (SLO.availability.target if slo == "availability" else SLO.latency.target)


def _burn_cases(slo: str) -> list[Case]:
    """Scenarios, scaled to ``slo``'s error budget (0.1 % availability, 1 % latency), each firing
    exactly the window pairs it names (SLO 30 days, workbook windows)."""
    scale = _budget(slo) / 0.001
    total = MINUTES_3D + 1  # 0m … 3d: the evaluation at 3d sees whole windows
    pairs = {(b.long_window, b.short_window): b for b in SLO.burn_rates}
    assert set(pairs) == {("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")}

    def expect(*windows: tuple[str, str]) -> list[dict[str, str]]:
        return [
            {
                "slo": slo,
                "long_window": lw,
                "short_window": sw,
                "severity": pairs[(lw, sw)].severity,
            }
            for lw, sw in windows
        ]

    def case(name: str, parts: list[tuple[int, float]], *windows: tuple[str, str]) -> Case:
        assert sum(m for m, _ in parts) == total
        return Case(
            f"{slo}: {name}",
            _slo_series(slo, *[(m, round(r * scale, 9)) for m, r in parts]),
            f"{total - 1}m",
            {f"MlApi{slo.capitalize()}BudgetBurn": expect(*windows)},
            evaluation_interval=EVALUATE_BURN,
        )

    return [
        case("healthy traffic (half the budget) never alerts", [(total, 0.0005)]),
        # 10 % errors for 15 minutes: 1 h at 2.5 % > 14.4 x 0.1 %, 6 h at 0.42 % < 6 x 0.1 %.
        # (An alert reads the recordings of the previous evaluation: every scenario holds for
        # the last two.)
        case("fast burn pages on 1h/5m only", [(total - 15, 0), (15, 0.10)], ("1h", "5m")),
        # 1.3 % for 3 hours: 1 h below 1.44 %, 6 h at 0.65 % > 0.6 %.
        case("slower burn pages on 6h/30m only", [(total - 180, 0), (180, 0.013)], ("6h", "30m")),
        # 0.5 % for 20 hours: 1 d at 0.42 % > 0.3 % (and 3 d at 0.14 % > 0.1 %).
        case(
            "a day of burn tickets on 1d/2h and 3d/6h",
            [(total - 1200, 0), (1200, 0.005)],
            ("1d", "2h"),
            ("3d", "6h"),
        ),
        # 0.25 % for two days: 1 d at 0.25 % < 0.3 %, 3 d at 0.17 % > 0.1 %.
        case(
            "a slow leak tickets on 3d/6h only", [(total - 2880, 0), (2880, 0.0025)], ("3d", "6h")
        ),
        # 10 % for 30 minutes that ended 10 minutes ago: the 5 m window resets the page.
        # 10 % for 15 minutes that ended 10 minutes ago: 1 h still at 2.5 %, but the 5 m window
        # has reset the page (and 6 h is at 0.42 % < 0.6 %).
        case("a burst that stopped no longer pages", [(total - 25, 0), (15, 0.10), (10, 0)]),
    ]


def _other_cases() -> list[Case]:
    queue_limit = ALERTS.queue_saturation.ratio * 1024
    api = {"namespace": "ml-api", "pod": "ml-api-blue-1"}
    hpa = {"namespace": "ml-api", "horizontalpodautoscaler": "ml-api", "job": "kube-state-metrics"}
    training = {"namespace": "ml-training"}
    nine_days = 9 * 24
    return [
        Case(
            "a first model load failure alerts at once",
            {_labels("stratus_model_load_failures_total", **api, reason="load_error"): "_x30 1x30"},
            "35m",
            {"MlApiModelLoadFailures": [{**api, "reason": "load_error"}]},
        ),
        Case(
            "repeated failures alert; failures long past do not",
            {
                _labels(
                    "stratus_model_load_failures_total", **api, reason="signature"
                ): "1x40 2x20",
                _labels(
                    "stratus_model_load_failures_total", namespace="ml-api", pod="old", reason="x"
                ): "1x60",
            },
            "50m",
            {"MlApiModelLoadFailures": [{**api, "reason": "signature"}]},
        ),
        Case(
            "pods of one colour on different versions for too long",
            {
                _labels(
                    "stratus_model_info",
                    namespace="ml-api",
                    colour="blue",
                    pod="a",
                    name="m",
                    version="3",
                    source="s",
                ): "1x30",
                _labels(
                    "stratus_model_info",
                    namespace="ml-api",
                    colour="blue",
                    pod="b",
                    name="m",
                    version="4",
                    source="s",
                ): "1x30",
                # blue/green on different versions is by design
                _labels(
                    "stratus_model_info",
                    namespace="ml-api",
                    colour="green",
                    pod="c",
                    name="m",
                    version="2",
                    source="s",
                ): "1x30",
            },
            "20m",
            {"MlApiModelVersionSkew": [{"namespace": "ml-api", "colour": "blue"}]},
            values={"MlApiModelVersionSkew": 2},
        ),
        Case(
            "a saturated queue alerts; a busy one does not",
            {
                _labels("stratus_queue_depth", **api): f"{queue_limit + 80:g}x20",
                _labels(
                    "stratus_queue_depth", namespace="ml-api", pod="ml-api-blue-2"
                ): f"{queue_limit - 20:g}x20",
            },
            "15m",
            {"MlApiQueueSaturated": [api]},
            values={"MlApiQueueSaturated": queue_limit + 80},
        ),
        Case(
            "503 shedding above the ratio alerts",
            {
                _labels("stratus_rejected_requests_total", **api, reason="queue_full"): "0+50x30",
                _labels(
                    "stratus_requests_total", **api, route="/predict", method="POST", status="200"
                ): "0+950x30",
                _labels(
                    "stratus_requests_total", **api, route="/predict", method="POST", status="503"
                ): "0+50x30",
            },
            "20m",
            {"MlApiLoadShedding": [{"namespace": "ml-api"}]},
        ),
        Case(
            "the HPA pinned at its maximum",
            {
                _labels("kube_horizontalpodautoscaler_status_current_replicas", **hpa): "20x40",
                _labels("kube_horizontalpodautoscaler_spec_max_replicas", **hpa): "20x40",
            },
            "30m",
            # The comparison keeps the series' own labels but for its name and job.
            {"MlApiHpaAtMaxReplicas": [{k: v for k, v in hpa.items() if k != "job"}]},
            values={"MlApiHpaAtMaxReplicas": 20},
        ),
        Case(
            "the HPA below its maximum",
            {
                _labels("kube_horizontalpodautoscaler_status_current_replicas", **hpa): "19x40",
                _labels("kube_horizontalpodautoscaler_spec_max_replicas", **hpa): "20x40",
            },
            "30m",
            {"MlApiHpaAtMaxReplicas": []},
        ),
        Case(
            "a failed training Job",
            {
                _labels(
                    "kube_job_failed", **training, job_name="training-29", condition="true"
                ): "0x5 1x10",
                _labels(
                    "kube_job_failed", **training, job_name="training-28", condition="true"
                ): "0x15",
            },
            "12m",
            {"TrainingJobFailed": [{**training, "job_name": "training-29", "condition": "true"}]},
        ),
        Case(
            "no successful training run in 8 days (9 days since the last)",
            {
                _labels(
                    "kube_cronjob_status_last_successful_time", **training, cronjob="training"
                ): f"0x{nine_days}"
            },
            f"{nine_days}h",
            {"TrainingRunMissing": [{**training, "cronjob": "training"}]},
            interval="1h",
            evaluation_interval="1h",
        ),
        Case(
            "a CronJob created 9 days ago that never succeeded",
            {_labels("kube_cronjob_created", **training, cronjob="training"): f"0x{nine_days}"},
            f"{nine_days}h",
            {"TrainingRunMissing": [{**training, "cronjob": "training"}]},
            interval="1h",
            evaluation_interval="1h",
        ),
        Case(
            "a run 2 days ago is recent enough",
            {
                _labels(
                    "kube_cronjob_status_last_successful_time", **training, cronjob="training"
                ): f"{7 * 86400}x{nine_days}",
                _labels("kube_cronjob_created", **training, cronjob="training"): f"0x{nine_days}",
            },
            f"{nine_days}h",
            {"TrainingRunMissing": []},
            interval="1h",
            evaluation_interval="1h",
        ),
        Case(
            "MLflow's pods stop answering scrapes",
            {_labels("up", job="mlflow", namespace="mlflow", pod="mlflow-1"): "1x5 0x15"},
            "15m",
            {"MlflowDown": [{}]},
        ),
        Case(
            "MLflow's targets are gone altogether",
            {_labels("up", job="ml-api", namespace="ml-api", pod="ml-api-blue-1"): "1x20"},
            "15m",
            {"MlflowDown": [{"job": "mlflow"}]},
        ),
        Case(
            "MLflow answering",
            {_labels("up", job="mlflow", namespace="mlflow", pod="mlflow-1"): "1x20"},
            "15m",
            {"MlflowDown": []},
        ),
    ]


CASES = [*_burn_cases("availability"), *_burn_cases("latency"), *_other_cases()]


def _rules_by_alert(files: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in files.values():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.setdefault(rule["alert"], []).append(rule)
    return found


_TEMPLATE = re.compile(r"\{\{ \$labels\.(\w+) \}\}|\{\{ \$value \}\}")


def _render(text: str, labels: dict[str, str], value: float | None) -> str:
    """The two template forms the rules use: ``{{ $labels.x }}`` and ``{{ $value }}``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return labels.get(match.group(1), "")
        assert value is not None, f"{text!r} needs an expected value"
        return f"{value:g}"

    rendered = _TEMPLATE.sub(substitute, text)
    assert "{{" not in rendered, rendered
    return rendered


def _expected(case: Case, rules: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    tests = []
    for alert, label_sets in case.expected.items():
        exp = []
        for extra in label_sets:
            # The rule whose own labels agree with the expected ones (burn-rate windows).
            rule = next(
                r
                for r in rules[alert]
                if all(extra.get(k, v) == v for k, v in r.get("labels", {}).items())
            )
            labels = {**extra, **rule.get("labels", {})}
            annotations = {
                k: _render(v, labels, case.values.get(alert))
                for k, v in rule.get("annotations", {}).items()
            }
            exp.append({"exp_labels": labels, "exp_annotations": annotations})
        tests.append({"eval_time": case.eval_time, "alertname": alert, "exp_alerts": exp})
    return tests


def test_the_unit_tests_cover_every_alert_and_every_burn_rate_window() -> None:
    run = run_stack("aws-prod-apps")
    groups = [
        g for r in run.resources if r.type.endswith(":PrometheusRule") for g in r.get("spec.groups")
    ]
    deployed = alert_names(groups)
    tested = {alert for case in CASES for alert in case.expected}
    assert tested == deployed
    fired = {
        (alert, labels["long_window"], labels["short_window"])
        for case in CASES
        for alert, sets in case.expected.items()
        for labels in sets
        if "long_window" in labels
    }
    windows = {(b.long_window, b.short_window) for b in SLO.burn_rates}
    assert fired == {
        (f"MlApi{slo.capitalize()}BudgetBurn", lw, sw)
        for slo in ("availability", "latency")
        for lw, sw in windows
    }
    for case in CASES:
        assert seconds(case.eval_time) > 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_promtool_unit_test(case: Case, promtool: str, tmp_path: Path) -> None:
    files = rule_files(run_stack("aws-prod-apps"), tmp_path)
    rules = _rules_by_alert(files)
    document = {
        "rule_files": [str(path) for path in files.values()],
        "evaluation_interval": case.evaluation_interval,
        "tests": [
            {
                "name": case.name,
                "interval": case.interval,
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": _expected(case, rules),
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(plain(document), sort_keys=False))
    result = run_tool([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_runbook_here_and_in_the_docs() -> None:
    from infra.k8s.observability.rules import RUNBOOKS
    from tests.servers import ROOT

    run = run_stack("aws-prod-apps")
    groups = [
        g for r in run.resources if r.type.endswith(":PrometheusRule") for g in r.get("spec.groups")
    ]
    assert set(RUNBOOKS) == alert_names(groups)
    section = (ROOT / "docs" / "observability.md").read_text()
    for alert in RUNBOOKS:
        assert f"| `{alert}` |" in section, alert
