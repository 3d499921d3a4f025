"""The configuration reference page, generated from the typed config models themselves.

Each model is validated by pydantic at the edge (stack config, service settings, training config,
policy config); the tables here are those models' JSON schemas, so a key added, renamed or
re-bounded in code shows up on the next build.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic_settings import BaseSettings
from schema_tables import markdown, schema_of, sections

from app.core.config import Settings
from infra.aws.config import AwsConfig
from infra.azure.config import AzureConfig
from infra.config import CommonConfig
from infra.k8s.config import AppsConfig
from infra.traffic.config import GlobalConfig
from policies.config import PolicyConfig
from training.config import ENV_NESTED_DELIMITER, ENV_PREFIX, TrainingConfig

#: (``stratus:<section>``, model, which stacks carry it, the page that explains it)
STACK_SECTIONS: list[tuple[str, type[BaseModel], str, str]] = [
    ("aws", AwsConfig, "`aws-<env>` (AWS foundation)", "[AWS](../aws.md)"),
    ("azure", AzureConfig, "`azure-<env>` (Azure foundation)", "[Azure](../azure.md)"),
    (
        "apps",
        AppsConfig,
        "`<cloud>-<env>-apps` (in-cluster)",
        "[Kubernetes workloads](../kubernetes.md) and [Observability](../observability.md)",
    ),
    ("global", GlobalConfig, "`global-<env>` (traffic)", "[Multi-cloud](../multi-cloud.md)"),
]

#: Plain (non-object) stack keys read one by one rather than through a model.
PLAIN_STACK_KEYS = [
    ("pulumiOrg", "every `-apps` and `global-<env>` stack", "infra.config.read_pulumi_org"),
    ("foundationStack", "`-apps` stacks (default `<cloud>-<env>`)", "infra.k8s"),
    ("dnsZone", "`-apps` stacks: the host is `ml-api.<env>.<zone>`", "infra.k8s"),
    ("githubRepository", "foundations: the repository CI identities trust", "infra.delivery"),
]


def _model_tables(model: type[BaseModel], root: str, level: int) -> str:
    return "\n".join(markdown(section, level) for section in sections(schema_of(model), root))


def _settings_table(model: type[BaseSettings], prefix: str) -> str:
    """Flat settings: one row per environment variable."""
    (section,) = list(sections(schema_of(model), ""))
    lines = ["| variable | type | default | meaning and bounds |", "|---|---|---|---|"]
    for key, kind, default, meaning in section.rows:
        lines.append(f"| `{prefix}{key.strip('`').upper()}` | {kind} | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def page() -> str:
    parts = [
        "# Configuration reference\n",
        "Generated at build time from the pydantic models that validate each configuration "
        "(`docs/gen/config_reference.py`): keys, types, defaults and bounds are what the code "
        "accepts. The area pages explain what the values do.\n",
        "## Stack configuration (`stacks/Pulumi.<stack>.yaml`)\n",
        "Keys live under the `stratus:` namespace, camelCase; unknown keys are rejected and an "
        "invalid value fails naming the full key (`stratus:aws.cluster.kubernetesVersion`). "
        "See [Architecture](../architecture.md#stack-layers-and-the-foundation-contract) for the "
        "layers.\n",
        "### Every stack: `stratus:owner`, `stratus:costCenter`, `stratus:extraTags`\n",
        _model_tables(CommonConfig, "stratus:", 4),
        "### Plain keys\n",
        "| key | where | read by |\n|---|---|---|\n"
        + "".join(f"| `stratus:{k}` | {w} | `{m}` |\n" for k, w, m in PLAIN_STACK_KEYS),
    ]
    for section, model, stacks, guide in STACK_SECTIONS:
        parts += [
            f"### `stratus:{section}`\n",
            f"Stacks: {stacks}. Explained in {guide}.\n",
            _model_tables(model, f"stratus:{section}", 4),
        ]
    parts += [
        "## Inference service settings (environment)\n",
        "Read once at start-up by `app/core/config.py` (pydantic-settings, prefix `STRATUS_`); "
        "explained in [Inference service](../inference.md#settings-environment-prefix-stratus_-"
        "validated-at-start-up).\n",
        _settings_table(Settings, "STRATUS_"),
        "## Training configuration (YAML)\n",
        "`python -m training run --config PATH` (`training/config.py`; examples in "
        "`training/configs/`). Every key can also come from the environment: prefix "
        f"`{ENV_PREFIX}`, `{ENV_NESTED_DELIMITER}` between nested keys "
        f"(`{ENV_PREFIX}MODEL{ENV_NESTED_DELIMITER}ESTIMATOR`). Explained in "
        "[Training](../training.md).\n",
        _model_tables(TrainingConfig, "", 3),
        "## Policy configuration (`policies/policy-config.yaml`)\n",
        "Enforcement levels, rule parameters and exemptions of the policy pack; explained in "
        "[Policies](../policies.md#configuration).\n",
        _model_tables(PolicyConfig, "", 3),
    ]
    return "\n".join(parts)
