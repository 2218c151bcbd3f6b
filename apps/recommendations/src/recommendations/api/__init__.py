"""The recommendation HTTP API (FastAPI), built by a factory around an injected store.

``create_app(store, settings)`` returns the ASGI app; ``build_service(settings, env)`` is the
entry point ``sparkjobs serve recommendations`` calls (group ``sparkjobs.services``): it reads
``services.recommendations`` from the layered configuration, opens the store with a circuit
breaker and returns the app. Endpoints::

    GET /recommendations/{user_id}?limit=10   top items for a user; unknown users get popular items (fallback)
    GET /items/{item_id}/similar?limit=10     items similar to one item; unknown item → 404
    GET /health                               200 with the served snapshot, 503 with the reason
    GET /metrics                              Prometheus exposition of this app's own registry

Invalid input (``limit`` outside 1..100, a non-integer id) → 422 with a readable message; a store
that cannot serve (unreachable, no snapshot loaded, breaker open) → 503.

Modules: ``settings`` (:class:`ApiSettings`), ``models`` (response bodies), ``routes`` (the
routers), ``errors`` (exception handlers), ``metrics`` (Prometheus), ``app`` (the factory).
"""

from recommendations.api.app import build_service, create_app
from recommendations.api.settings import ApiSettings

__all__ = ["ApiSettings", "build_service", "create_app"]
