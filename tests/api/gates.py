"""The gates (authentication and role checks) each API route declares."""

from __future__ import annotations

from fastapi.routing import APIRoute, iter_route_contexts

from api.http.auth import Gate


def declared_gates(app):
    """Every API route of `app` (included routers too) with the gates it declares."""
    # The API documentation pages fastapi-offline adds: open, like the OpenAPI schema.
    documentation = {"/docs", "/docs/oauth2-redirect", "/redoc"}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path not in documentation:
            yield (
                context,
                [d.call for d in context.dependant.dependencies if isinstance(d.call, Gate)],
            )
