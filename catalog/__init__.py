"""The error-code catalog transcribed from the providers' documentation.

``get_catalog()`` loads every table once per process and returns the cached
:class:`catalog.lookup.Catalog`: the shipped files as written, which the tests load validated
(see ``catalog.loader.load_catalog``), so a cold start builds no validation schema for them.
Importing this package loads nothing: the loader and its dependencies are imported on the first
call.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.lookup import Catalog

__all__ = ["get_catalog"]


@cache  # two threads racing on the very first call may both load; the catalog is read-only
def get_catalog() -> Catalog:
    """The process's catalog, loaded on first use (raises ``catalog.loader.CatalogError``)."""
    from catalog.loader import load_catalog  # imported here to keep ``import catalog`` cheap

    return load_catalog(validate=False)
