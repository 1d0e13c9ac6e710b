"""The web dashboard: review queue, verification, statistics and audit pages (templates + static)."""

from safety.api.dashboard.routes import router

__all__ = ["router"]
