"""Azure names for globally unique, length-limited resources (Key Vault, storage, ACR).

These names are DNS labels shared by every Azure customer, and a purge-protected vault keeps its
name reserved after deletion, so they carry a stable suffix derived from the subscription and the
stack (like ARM's ``uniqueString``) instead of depending on provider auto-naming rules.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class GlobalNames:
    key_vault: pulumi.Output[str]  # 3-24, alphanumerics and dashes
    storage_account: pulumi.Output[str]  # 3-24, lowercase alphanumerics
    registry: pulumi.Output[str]  # 5-50, alphanumerics


def unique_suffix(subscription_id: str, project: str, stack: str) -> str:
    return hashlib.sha256(f"{subscription_id}/{project}/{stack}".encode()).hexdigest()[:8]


def global_names(
    subscription_id: pulumi.Input[str], project: str, environment: str, stack: str
) -> GlobalNames:
    base = re.sub(r"[^a-z0-9]", "", project.lower())[:8] or "stratus"
    env = environment[:4]
    suffix = pulumi.Output.from_input(subscription_id).apply(
        lambda sub: unique_suffix(sub, project, stack)
    )
    return GlobalNames(
        key_vault=suffix.apply(lambda s: f"{base}-{env}-{s}"),
        storage_account=suffix.apply(lambda s: f"{base}{env}{s}"),
        registry=suffix.apply(lambda s: f"{base}{env}{s}"),
    )
