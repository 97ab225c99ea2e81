"""Are the paper's findings about VAEs, or about its MLP? Chapter 13 measures the paper's claims of chapters
03-06 (`paper.core`) on each model of the architecture comparison (`config.ARCHITECTURE_RUNS`), all trained
on one budget, and asks of each other architecture how many of the MLP's verdicts it shares.

The question is this book's, not the paper's: its claims sit in their own section of the claims page. The
rule was written before any architecture had been measured.
"""
from __future__ import annotations

import re

from ..config import ARCHITECTURE_RUNS
from .rules import MISSING, READINGS, UNDECIDED, Claim, share

BEYOND = "Beyond the paper (this book)"
REFERENCE = "MLP"      # the paper's architecture, trained on the same budget as the others
NOTEBOOK = "13_architectures"


def verdict_agreement(verdicts: dict[str, dict[str, str]], reference: dict[str, str]) -> float | None:
    """The share of the claims that `reference` (claim id -> verdict, one reading) decides on which `verdicts`
    (the same for another model) gives the same verdict. Claims the reference leaves undecided or unmeasured
    do not count; None when it decides none."""
    decided = [claim for claim, verdict in reference.items() if verdict not in (UNDECIDED, MISSING)]
    if not decided:
        return None
    return sum(verdicts.get(claim) == reference[claim] for claim in decided) / len(decided)


def _agreement_claim(name: str) -> Claim:
    return Claim(
        f"beyond.carries_over.{re.sub('[^a-z0-9]+', '_', name.split()[0].lower())}", "Beyond the MLP",
        f"The paper's findings hold for the {name} model as they hold for the paper's MLP", "(not in the paper)",
        NOTEBOOK, lambda values: values["agreement"][name], lambda a: share(a, 0.8, 0.6),
        f"share of the claims of chapters 03-06 that the MLP decides (same budget) on which the {name} model gets "
        "the MLP's verdict: >= 0.8 reproduced, >= 0.6 partly", main_model=False, unit="of claims",
        source=BEYOND)


CLAIMS: tuple[Claim, ...] = tuple(_agreement_claim(name) for name in ARCHITECTURE_RUNS if name != REFERENCE)


def agreement_values(rows_by_model: dict[str, list[dict]]) -> dict:
    """What chapter 13 saves and its claims read: per reading, each other model's `verdict_agreement` with the
    MLP, from the verdict-table rows of `core.core_claims` per model name."""
    readings = {}
    for reading in READINGS:
        verdicts = {name: {row["id"]: row[f"verdict ({reading})"] for row in rows} for name, rows in rows_by_model.items()}
        readings[reading] = {"agreement": {name: verdict_agreement(verdicts[name], verdicts[REFERENCE])
                                           for name in verdicts if name != REFERENCE}}
    return {"readings": readings}


def comparison_rows(rows_by_model: dict[str, list[dict]], reading: str) -> list[dict]:
    """The claim x architecture table of one reading: a row per claim (its figure, statement and the paper's
    value), a cell per model with its verdict and, in brackets, its value."""
    table: dict[str, dict] = {}
    for name, rows in rows_by_model.items():
        for row in rows:
            entry = table.setdefault(row["id"], {"figure": row["figure"], "claim": row["claim"], "paper": row["paper"]})
            entry[name] = f"{row[f'verdict ({reading})']} ({row[f'ours ({reading})']})"
    return list(table.values())
