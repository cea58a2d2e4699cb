"""The HTTP service: a thin adapter from requests to the core (engine, protocol) and the store."""

from .app import create_app

__all__ = ["create_app"]
