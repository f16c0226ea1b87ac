"""Which catalog of modules and attributes a provider type checks the desired state against."""

from __future__ import annotations

from keyform.catalog import REFERENCE_CATALOG, Catalog

_CATALOGS: dict[str, Catalog] = {"keyform": REFERENCE_CATALOG}


def catalog_for(provider_type: str) -> Catalog | None:
    """The catalog of `provider_type`; None when unknown (module and attribute checks are skipped)."""
    return _CATALOGS.get(provider_type)
