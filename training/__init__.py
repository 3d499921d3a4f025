"""Stratus training pipeline: raw data → validated, evaluated model → MLflow registry → model stores."""
