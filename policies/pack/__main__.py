"""The Stratus CrossGuard policy pack: ``pulumi preview --policy-pack policies/pack``.

Thin on purpose: the rules live in ``policies.rules``; ``policies.policy_pack`` builds the
``PolicyPack`` (which serves the analyzer gRPC interface until the engine stops it).
"""

from policies.policy_pack import serve

serve()
