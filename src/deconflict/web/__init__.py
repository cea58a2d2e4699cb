"""The operations picture: a browser UI served by the service itself (see `ui`), and its offline basemap."""

from .ui import router

__all__ = ["router"]
