"""What an assay covered: cBioPortal gene panel files and the per-sample gene panel matrix.

A gene panel file (``data_gene_panel_*.txt``) holds ``key: value`` lines, among them ``stable_id``
and ``gene_list`` (genes separated by tabs or spaces). A gene matrix (``data_gene_matrix.txt``) is a
table of ``SAMPLE_ID`` and one column per profile giving each sample's panel id (``NA``: the sample
was not profiled). Panel ids the matrix names are looked up among the panel files given and, failing
that, among the ``data_gene_panel*.txt`` files next to the matrix.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UsageError
from engine.importers.tabular import is_missing, iter_lines, read_table


@dataclass
class Panel:
    stable_id: str
    genes: tuple[str, ...]
    path: str


def read_panel(path: Path) -> Panel:
    """Parse one gene panel file."""
    meta: dict[str, str] = {}
    for n, text in iter_lines(path):
        if not text.strip() or text.startswith("#"):
            continue
        if ":" not in text:
            raise UsageError(f"{path}:{n}: a gene panel file has 'key: value' lines (stable_id, gene_list)")
        k, v = text.split(":", 1)
        meta[k.strip()] = v.strip()
    if "stable_id" not in meta or "gene_list" not in meta:
        missing = "stable_id" if "stable_id" not in meta else "gene_list"
        raise UsageError(f"{path}: not a gene panel file: no '{missing}:' line")
    genes = tuple(g for g in meta["gene_list"].split() if g)
    if not genes:
        raise UsageError(f"{path}: gene_list is empty")
    return Panel(meta["stable_id"], genes, str(path))


def _is_panel_file(path: Path) -> bool:
    for _, text in iter_lines(path):
        if text.strip() and not text.startswith("#"):
            head = text.split("\t", 1)[0]
            return head.endswith(":") or (":" in head and not head.startswith("SAMPLE_ID"))
    return False


@dataclass
class PanelSet:
    """The gene panel of every sample: one panel for all, or a matrix of sample -> panel id."""

    panels: dict[str, Panel] = field(default_factory=dict)
    matrix: dict[str, str | None] | None = None
    matrix_path: str | None = None

    @classmethod
    def load(cls, paths: list[Path]) -> PanelSet:
        ps = cls()
        matrices: list[Path] = []
        for p in paths:
            if _is_panel_file(p):
                panel = read_panel(p)
                ps.panels.setdefault(panel.stable_id, panel)
            else:
                matrices.append(p)
        if len(matrices) > 1:
            raise UsageError(f"more than one gene matrix given: {', '.join(map(str, matrices))}")
        if matrices:
            ps._read_matrix(matrices[0])
        elif len(ps.panels) > 1:
            raise UsageError(
                "several gene panels and no gene matrix saying which sample used which: "
                "give the study's data_gene_matrix.txt with --panel"
            )
        if not ps.panels:
            raise UsageError("--assay panel needs a gene panel file or a gene matrix (--panel FILE)")
        return ps

    def _read_matrix(self, path: Path) -> None:
        table = read_table(path)
        skey = table.require("SAMPLE_ID")
        others = [i for i, h in enumerate(table.header) if i != skey]
        col = next((i for i in others if table.header[i] == "mutations" or table.header[i].endswith("_mutations")), None)
        if col is None:
            if len(others) != 1:
                raise UsageError(f"{path}: no 'mutations' column saying which panel each sample's mutations used")
            col = others[0]
        matrix: dict[str, str | None] = {}
        for _, fields in table.rows:
            sid = fields[skey].strip() if skey < len(fields) else ""
            if not sid:
                continue
            v = fields[col].strip() if col < len(fields) else ""
            matrix[sid] = None if is_missing(v) else v
        self.matrix, self.matrix_path = matrix, str(path)
        wanted = {v for v in matrix.values() if v is not None} - set(self.panels)
        if wanted:
            for sibling in sorted(path.parent.glob("data_gene_panel*.txt")):
                if sibling.resolve() == path.resolve():
                    continue
                try:
                    panel = read_panel(sibling)
                except UsageError:
                    continue
                self.panels.setdefault(panel.stable_id, panel)
        missing = sorted({v for v in matrix.values() if v is not None} - set(self.panels))
        if missing:
            close = difflib.get_close_matches(missing[0], list(self.panels), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(
                f"{path}: panel '{missing[0]}' is named by the gene matrix but no gene panel file gives it{hint}; "
                "pass its data_gene_panel file with --panel"
            )

    def panel_of(self, sample: str) -> Panel | None:
        """The sample's panel; None when the matrix does not list it or says it was not profiled."""
        if self.matrix is None:
            return next(iter(self.panels.values()))
        pid = self.matrix.get(sample)
        return self.panels.get(pid) if pid is not None else None
