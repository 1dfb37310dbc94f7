"""Importers: mutation files (MAF, cBioPortal, TCGA, VCF), copy-number and fusion files, GA4GH
Phenopackets and FHIR bundles -> cases in the case format.

The Python API is in :mod:`engine.importers.api` (``make_importer``, ``make_document_reader``, ``load_vocabulary``,
``read_sample_list``, ``Importer``, ``ImportOptions``, ``Summary``, ``HotspotTable``); the names are
also reachable here, imported on first use so that the command line starts fast.
"""
from __future__ import annotations

__all__ = ["make_importer", "make_document_reader", "load_vocabulary", "read_sample_list", "Importer", "ImportOptions", "Summary", "HotspotTable"]


def __getattr__(name: str):
    if name in __all__ or name == "HOTSPOT_FILE":
        from engine.importers import api

        return getattr(api, name)
    raise AttributeError(f"module 'engine.importers' has no attribute {name!r}")
