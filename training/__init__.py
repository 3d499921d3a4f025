"""Stratus training pipeline: raw data → validated model → MLflow registry → model stores."""
