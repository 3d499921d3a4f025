"""Blue/green rollout of the ML API across clouds: the plan (pure logic), its execution through
thin edges, the smoke test, and the ``python -m infra rollout`` command."""
