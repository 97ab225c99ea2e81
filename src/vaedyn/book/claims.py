"""The verdicts as the pages show them, all read from the claims registry (`paper.registry`).

A chapter calls `page_verdicts`: it glues each verdict of the claims it measures under
`glue_name(claim id, reading)` and gets the rows of its verdict table. The claims page calls
`claims_rows` on every results file. Both judge through `registry.judge`, so a chapter and the
claims page cannot disagree about the same results; a test checks it on the executed pages.
"""
from __future__ import annotations

import json
from collections import Counter

from ..paper.registry import NO_READING, REGISTRY, judge, page_claims
from ..paper.rules import MISSING, NOT, PARTLY, PAPER, READINGS, REPRODUCED, UNDECIDED, Claim
from .page import glue, plain

GLUE_PREFIX = "verdict__"
VERDICT_ORDER = (NOT, UNDECIDED, PARTLY, REPRODUCED, MISSING)


def glue_name(claim_id: str, reading: str) -> str:
    """The glue key of one verdict on a chapter page, e.g. verdict__fig3a_concept_dip__swap."""
    return f"{GLUE_PREFIX}{claim_id.replace('.', '_')}__{'none' if reading == NO_READING else reading}"


def format_value(value, unit: str = "") -> str:
    """Our measured value as the tables print it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:.2f}"
    elif isinstance(value, (list, tuple)):
        if value and all(v is None or isinstance(v, bool) for v in value):
            held = sum(v is True for v in value)
            open_ = sum(v is None for v in value)
            text = f"{held} of {len(value)} hold" + (f", {open_} undecided" if open_ else "")
        else:
            text = ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value)
    else:
        text = str(value)
    return f"p = {text}" if unit == "p" else f"{text} {unit}".strip()


def _row(claim: Claim, judged: dict[str, dict]) -> dict:
    row = {"id": claim.id, "figure": claim.figure, "claim": claim.statement, "paper": claim.paper}
    for reading in READINGS:
        entry = judged.get(reading) if claim.noise_dependent else judged[NO_READING]
        if not entry or entry["value"] is None:
            row[f"ours ({reading})"] = "-"
        else:
            row[f"ours ({reading})"] = claim.show(entry["value"]) if claim.show else format_value(entry["value"], claim.unit)
        row[f"verdict ({reading})"] = entry["verdict"] if entry else MISSING
    row["rule"] = claim.rule
    row["rule fixed"] = claim.fixed
    return row


def as_stored(values: dict) -> dict:
    """`values` as a results file holds them (through JSON): what the claims page judges."""
    return json.loads(json.dumps(plain(values)))


def verdict_rows(notebook: str, dataset: str, values: dict) -> list[dict]:
    """The verdict-table rows of the claims a page measures, judged from `values` as a results file holds
    them, without gluing anything: for the report on a model of one's own (`paper.core.core_claims`)."""
    values = as_stored(values)
    return [_row(claim, judge(claim, values)) for claim in page_claims(notebook, dataset)]


def page_verdicts(notebook: str, dataset: str, values: dict) -> list[dict]:
    """Glue every verdict of the claims a page measures and return its verdict-table rows. A claim that
    does not depend on the noise shows the same verdict under both readings. The values are judged as the
    results file will hold them (through JSON), so the claims page judges exactly the same numbers."""
    values = as_stored(values)
    rows = []
    for claim in page_claims(notebook, dataset):
        judged = judge(claim, values)
        for reading, entry in judged.items():
            glue(glue_name(claim.id, reading), entry["verdict"], display=False)
        rows.append(_row(claim, judged))
    return rows


def seed_verdicts(claim: Claim, spread: dict[int, list[dict]]) -> dict[str, list[dict]]:
    """{reading: [{"seed", "value", "verdict"}, ...]} of one claim over the seed spread's results
    ({seed: results files}, `book.load_spread`), seeds that measured it only; {} for a claim that is
    not about the main model."""
    if not claim.main_model:
        return {}
    by_seed = {reading: [] for reading in READINGS}
    for seed, results in sorted(spread.items()):
        record = next((r for r in results if (r["dataset"], r["notebook"]) == (claim.dataset, claim.notebook)), None)
        if record is None:
            continue
        judged = judge(claim, record["values"])
        for reading in READINGS:
            entry = judged.get(reading) if claim.noise_dependent else judged[NO_READING]
            if entry and entry["verdict"] != MISSING:
                by_seed[reading].append({"seed": seed, "value": entry["value"], "verdict": entry["verdict"]})
    return by_seed


def seeds_text(entries: list[dict]) -> str:
    """How many of the spread's seeds reproduce a claim: '2/3' (or '-' without a spread)."""
    if not entries:
        return "-"
    return f"{sum(e['verdict'] == REPRODUCED for e in entries)}/{len(entries)}"


def claims_rows(results: list[dict], spread: dict[int, list[dict]] | None = None) -> list[dict]:
    """One row per registry claim, judged from the results file of its page (not measured when that page
    has not run), with the profile of the run it comes from; given the seed spread's results, each
    main-model claim also gets its verdict per seed and the count of seeds that reproduce it."""
    by_page = {(r["dataset"], r["notebook"]): r for r in results}
    rows = []
    for claim in REGISTRY.values():
        record = by_page.get((claim.dataset, claim.notebook))
        judged = judge(claim, record["values"] if record else None)
        row = {"source": claim.source, "dataset": claim.dataset, **_row(claim, judged),
               "profile": record["profile"] if record else "-",
               "noise-dependent": claim.noise_dependent, "budget-sensitive": claim.budget_sensitive,
               "main model": claim.main_model}
        per_seed = seed_verdicts(claim, spread or {})
        for reading in READINGS:
            entries = per_seed.get(reading, [])
            row[f"seeds ({reading})"] = seeds_text(entries)
            row[f"seed verdicts ({reading})"] = {e["seed"]: e["verdict"] for e in entries}
            row[f"seed values ({reading})"] = {
                e["seed"]: claim.show(e["value"]) if claim.show else format_value(e["value"], claim.unit)
                for e in entries}
        rows.append(row)
    return rows


def verdict_counts(rows: list[dict], source: str = PAPER) -> dict[str, Counter]:
    """Per reading, how many of `source`'s claims got each verdict."""
    return {reading: Counter(r[f"verdict ({reading})"] for r in rows if r["source"] == source) for reading in READINGS}


def favoured_reading(rows: list[dict]) -> tuple[str, dict[str, int]]:
    """Which reading of the noise the data favour, by the rule fixed before counting (issue 10): the
    reading under which more of the paper's noise-dependent claims are reproduced; a difference of one
    claim or none favours neither. Returns the answer and the counts it rests on."""
    noisy = [r for r in rows if r["source"] == PAPER and r["noise-dependent"]]
    reproduced = {reading: sum(r[f"verdict ({reading})"] == REPRODUCED for r in noisy) for reading in READINGS}
    gap = reproduced["swap"] - reproduced["flip"]
    return ("neither reading" if abs(gap) <= 1 else "swap" if gap > 0 else "flip"), reproduced


def seed_counts(rows: list[dict], source: str = PAPER) -> dict[str, Counter]:
    """Per reading, over `source`'s main-model claims that more than one seed measured: how many every
    seed reproduces ('all'), some seeds ('some'), no seed ('none'), and how many get more than one
    verdict from different seeds ('differ')."""
    counts = {}
    for reading in READINGS:
        tally = Counter()
        for row in rows:
            verdicts = list(row.get(f"seed verdicts ({reading})", {}).values())
            if row["source"] != source or len(verdicts) < 2:
                continue
            reproduced = sum(v == REPRODUCED for v in verdicts)
            tally["measured"] += 1
            tally["all" if reproduced == len(verdicts) else "some" if reproduced else "none"] += 1
            tally["differ"] += len(set(verdicts)) > 1
        counts[reading] = tally
    return counts


def verdict_cell(row: dict, reading: str) -> str:
    """One reading's verdict, the value it rests on and, with a seed spread of more than one seed, how
    many seeds reproduce the claim, as a table cell: 'partly (0.60 of classes); seeds 1/3'."""
    ours = row[f"ours ({reading})"]
    seeds = row.get(f"seeds ({reading})", "-")
    return (row[f"verdict ({reading})"] + ("" if ours == "-" else f" ({ours})")
            + ("" if seeds == "-" or seeds.endswith("/1") else f"; seeds {seeds}"))


def compact_rows(rows: list[dict], with_profile: bool = False) -> list[dict]:
    """Rows narrow enough for a page: figure, claim, the paper's value and one cell per reading. With
    `with_profile` (a record whose pages ran under several profiles) the figure cell also names the
    profile of the page that measured the claim."""
    return [{"id": r["id"], "figure": r["figure"] + (f" ({r['profile']})" if with_profile else ""),
             "claim": r["claim"], "paper": r["paper"],
             **{reading: verdict_cell(r, reading) for reading in READINGS}} for r in rows]


def verdict_frame(rows: list[dict]):
    """A page's verdict rows as the table it glues: one line per claim, both readings side by side."""
    import pandas as pd

    if not rows:
        return pd.DataFrame({"claim": ["no claim of the paper is judged on this page for this dataset"]})
    return pd.DataFrame(compact_rows(rows)).set_index("id")
