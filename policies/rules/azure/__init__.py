"""Azure foundation rules: AKS, storage, ACR, Key Vault, PostgreSQL, NSGs."""

from policies.rules.azure import cluster, network, services, storage

RULES = (*cluster.RULES, *storage.RULES, *services.RULES, *network.RULES)
