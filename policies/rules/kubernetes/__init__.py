"""Kubernetes rules on the typed ``pulumi_kubernetes`` objects the ``-apps`` stacks declare."""

from policies.rules.kubernetes import images, namespaces, operations, security

RULES = (*security.RULES, *images.RULES, *operations.RULES, *namespaces.RULES)
