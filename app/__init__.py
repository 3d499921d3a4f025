"""Stratus inference service (FastAPI): serves the champion model over REST."""
