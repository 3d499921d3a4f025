"""Run any shipped stack's real program offline, under the Pulumi SDK's mocks.

One implementation for the tests, ``python -m infra render``, the policy runner and the cost
report: :func:`run_stack` returns every resource the program registers (inputs, secret markers,
parents, providers, options) and the stack outputs. Importing this package registers the cloud
mock tables (:mod:`infra.offline.aws`, :mod:`infra.offline.azure`, :mod:`infra.offline.kubernetes`).
"""

from infra.offline import aws, azure, kubernetes  # noqa: F401 - registers the mock tables
from infra.offline.runner import (
    MOCK_PASSWORD,
    OfflineError,
    Registered,
    StackRun,
    apply_overrides,
    computed_outputs,
    encode_config,
    invoke_result,
    mock_password,
    offline_overrides,
    project_root,
    run_stack,
    shipped_stacks,
    stack_config,
    stack_values,
    stacks_dir,
    walk,
)

__all__ = [
    "MOCK_PASSWORD",
    "OfflineError",
    "Registered",
    "StackRun",
    "apply_overrides",
    "computed_outputs",
    "encode_config",
    "invoke_result",
    "mock_password",
    "offline_overrides",
    "project_root",
    "run_stack",
    "shipped_stacks",
    "stack_config",
    "stack_values",
    "stacks_dir",
    "walk",
]
