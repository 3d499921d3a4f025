"""Stratus policy-as-code (CrossGuard policy pack and the offline policy runner)."""
