"""The company catalog: one data file per company, validated at load."""

from casework.catalog.loader import (
    Catalog,
    CatalogError,
    Channel,
    Plan,
    Provider,
    Source,
    default_catalog,
    load_catalog,
)

__all__ = [
    "Catalog", "CatalogError", "Channel", "Plan", "Provider", "Source", "default_catalog", "load_catalog",
]
