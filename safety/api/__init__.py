"""The HTTP API and dashboard (FastAPI)."""

from safety.api.app import create_app

__all__ = ["create_app"]
