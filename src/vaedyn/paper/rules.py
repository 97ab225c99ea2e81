"""How a claim of the paper is judged: the verdict vocabulary, the `Claim` record the registry holds,
and the few rule shapes the figure modules build their claims from.

A verdict is one of reproduced / partly / not reproduced / undecided. "Undecided" is an outcome of
its own: the measurement exists, but its uncertainty could put it in more than one category (a
proportion whose 95 % interval straddles the threshold, a stage decided by a near tie). "Not
measured" means the page that measures the claim has not been run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from scipy.stats import binomtest

REPRODUCED, PARTLY, NOT, UNDECIDED, MISSING = "reproduced", "partly", "not reproduced", "undecided", "not measured"
VERDICTS = (REPRODUCED, PARTLY, NOT, UNDECIDED)
READINGS = ("swap", "flip")
PAPER = "Nagano et al. 2020"

# When a rule was written, relative to what we had seen. Every rule says which applies; a rule
# changed after its data were seen says so in its own words, with the reason.
BEFORE_DATA = "before our data"
AFTER_QUICK = ("after the 40-epoch (quick) record had been read, before any 1500-epoch result "
               "(written for the claims registry, issue 10)")


@dataclass(frozen=True)
class Claim:
    """One checkable statement and the one rule that decides it.

    `measure` takes a page's results values (for a noise-dependent claim: the values of one reading,
    `values["readings"][reading]`) and returns our number; `judge` turns it into a verdict.
    """

    id: str                      # stable key, e.g. "fig3a.concept_dip"
    figure: str                  # where the paper states it, e.g. "Fig. 3a"
    statement: str               # what the paper says, in our words
    paper: str                   # the paper's value as it states it
    notebook: str                # the chapter that measures it
    measure: Callable[[dict], object]
    judge: Callable[[object], str]
    rule: str                    # the rule in words, with its thresholds
    fixed: str = BEFORE_DATA     # when the rule was written (see BEFORE_DATA, AFTER_QUICK)
    dataset: str = "mnist"
    noise_dependent: bool = True     # measured under both readings of the noise
    budget_sensitive: bool = True    # its value can move with training length
    main_model: bool = True          # measured on the main model, so seeds apply
    unit: str = ""
    source: str = PAPER
    show: Callable[[object], str] | None = None   # how a table prints our value, when not plainly


def within(ours: float | None, paper: float, reproduced: float, partly: float) -> str:
    """|ours - paper| <= `reproduced` -> reproduced, <= `partly` -> partly, else not; None -> not."""
    if ours is None:
        return NOT
    gap = abs(ours - paper) - 1e-9  # grid values such as 0.4 - 0.3 carry float round-off
    return REPRODUCED if gap <= reproduced else PARTLY if gap <= partly else NOT


def share(fraction: float | None, reproduced: float = 0.9, partly: float = 0.5) -> str:
    """Verdict for 'holds for most cases': a fraction of cases (labels, noise levels, trials)."""
    if fraction is None:
        return NOT
    return REPRODUCED if fraction >= reproduced else PARTLY if fraction >= partly else NOT


def in_range(value: float | None, reproduced: tuple[float, float], partly: tuple[float, float]) -> str:
    """Verdict for a value the paper gives as a range: inside `reproduced` or inside `partly`."""
    if value is None:
        return NOT
    return (REPRODUCED if reproduced[0] <= value <= reproduced[1] else
            PARTLY if partly[0] <= value <= partly[1] else NOT)


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (scipy's binomtest)."""
    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


def majority_holds(fraction: float, trials: int, threshold: float = 0.5) -> bool | None:
    """Does a proportion of `trials` lie above `threshold`? True when its 95 % Wilson interval is above
    it, False when below, None (undecided) when the interval contains it."""
    low, high = wilson_interval(round(fraction * trials), trials)
    return True if low >= threshold else False if high < threshold else None


def count_verdict(outcomes: list[bool | None], reproduced: int, partly: int) -> str:
    """Verdict from per-case outcomes (True, False, None = undecided): at least `reproduced` cases hold
    -> reproduced, at least `partly` -> partly, else not; undecided when the undecided cases could
    move the count into another category."""
    sure = sum(o is True for o in outcomes)
    maybe = sum(o is None for o in outcomes)

    def category(count: int) -> str:
        return REPRODUCED if count >= reproduced else PARTLY if count >= partly else NOT

    return category(sure) if category(sure) == category(sure + maybe) else UNDECIDED
