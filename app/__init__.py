"""Stratus inference service (FastAPI): serves the champion model over REST."""

#: the service's API version (OpenAPI document, V2 server metadata)
__version__ = "1.0.0"
