"""The claims registry: every claim of the paper (and of the other documents) that the book checks,
by id, and the one function that decides their verdicts.

Each figure module holds its own claims (`CLAIMS`) next to the measurements they read; this
module collects them, so a chapter and the claims page ask the same rule about the same values.
A noise-dependent claim is judged once per reading of the noise, from `values["readings"][reading]`
of its chapter's results; a claim that does not depend on the noise reads `values` itself.
"""
from __future__ import annotations

from . import architectures, attractors, fig2, fig3, fig4, fig5, fig7, latent_size, music, other_sources
from .rules import MISSING, READINGS, Claim

NO_READING = "-"


def _collect(*groups: tuple[Claim, ...]) -> dict[str, Claim]:
    registry: dict[str, Claim] = {}
    for claim in (c for group in groups for c in group):
        if claim.id in registry:
            raise ValueError(f"claim id {claim.id!r} is defined twice")
        registry[claim.id] = claim
    return registry


REGISTRY: dict[str, Claim] = _collect(fig2.CLAIMS, fig3.CLAIMS, fig4.CLAIMS, fig5.CLAIMS, fig7.CLAIMS,
                                      latent_size.CLAIMS, other_sources.CLAIMS,
                                      architectures.CLAIMS, attractors.CLAIMS, music.CLAIMS)


def readings_of(claim: Claim) -> tuple[str, ...]:
    return READINGS if claim.noise_dependent else (NO_READING,)


def judge(claim: Claim, values: dict | None) -> dict[str, dict]:
    """{reading: {"value": our value, "verdict": verdict}} for one claim and one results file's values
    (None when its page has not run). A reading the page did not measure is 'not measured'."""
    judged = {}
    for reading in readings_of(claim):
        source = values if reading == NO_READING or values is None else values.get("readings", {}).get(reading)
        if source is None:
            judged[reading] = {"value": None, "verdict": MISSING}
            continue
        try:
            value = claim.measure(source)
        except (KeyError, IndexError) as error:   # the page ran without what this claim needs (e.g. a label)
            judged[reading] = {"value": None, "verdict": MISSING, "error": f"{type(error).__name__}: {error}"}
            continue
        judged[reading] = {"value": value, "verdict": claim.judge(value)}
    return judged


def page_claims(notebook: str, dataset: str) -> list[Claim]:
    """The claims one page measures, in registry order."""
    return [c for c in REGISTRY.values() if c.notebook == notebook and c.dataset == dataset]


def page_verdicts(notebook: str, dataset: str, values: dict) -> dict[str, dict[str, str]]:
    """{claim id: {reading: verdict}} for every claim a page measures: what the chapter glues, and
    by construction what the claims page shows for the same results."""
    return {c.id: {r: j["verdict"] for r, j in judge(c, values).items()} for c in page_claims(notebook, dataset)}
