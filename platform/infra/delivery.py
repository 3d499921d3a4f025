"""The CI identities every foundation creates for GitHub Actions: OIDC federation, no long-lived
keys. Three identities per foundation, each trusted by exactly one kind of workflow run of the
configured repository (``stratus:githubRepository``, org-specific):

* ``deploy`` — jobs of the GitHub environment named like the stack's (``dev``, ``prod``; a
  protected environment with required reviewers in prod): ``pulumi up`` of the foundation, the
  ``-apps`` and the global stacks, and the rollout;
* ``preview`` — pull-request runs: read-only, for ``pulumi preview``;
* ``images`` — runs on the main branch: push images to this foundation's registry only.
"""

from __future__ import annotations

import re
from typing import Literal

import pulumi
from pydantic import Field

from infra.config import NAMESPACE, ConfigModel, StratusConfigError, missing_org_value

#: GitHub's OIDC issuer for Actions tokens.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")

CiRole = Literal["deploy", "preview", "images"]
CI_ROLES: tuple[CiRole, ...] = ("deploy", "preview", "images")


class DeliveryConfig(ConfigModel):
    """``stratus:<cloud>.delivery``: which workflow runs may use the CI identities."""

    enabled: bool = True
    #: The branch whose runs push images.
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,200}$")
    #: The GitHub environment of the deploy jobs (default: the stack's environment name).
    environment: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,255}$")


def read_repository() -> str:
    """``stratus:githubRepository`` (``owner/name``), the repository trusted for OIDC."""
    value = pulumi.Config(NAMESPACE).get("githubRepository")
    key = f"{NAMESPACE}:githubRepository"
    if not value:
        raise missing_org_value(
            key,
            "the GitHub repository (owner/name) whose workflows may deploy (OIDC trust)",
            "<owner>/<repository>",
        )
    if not _REPOSITORY.match(value):
        raise StratusConfigError(f"{key}: {value!r} is not a GitHub repository like owner/name")
    return value


def subjects(repository: str, config: DeliveryConfig, environment: str) -> dict[CiRole, str]:
    """The token ``sub`` claim each CI identity trusts (GitHub's documented formats)."""
    return {
        "deploy": f"repo:{repository}:environment:{config.environment or environment}",
        "preview": f"repo:{repository}:pull_request",
        "images": f"repo:{repository}:ref:refs/heads/{config.branch}",
    }
