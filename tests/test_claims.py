import numpy as np
import pytest

from vaedyn.book.claims import claims_rows, format_value, glue_name, verdict_counts
from vaedyn.paper import registry
from vaedyn.paper.latent_size import levelling_off
from vaedyn.paper.rules import (MISSING, NOT, PAPER, PARTLY, REPRODUCED, UNDECIDED, count_verdict, in_range,
                                majority_holds, share, wilson_interval, within)


def test_tolerance_rules():
    assert within(0.45, 0.4, 0.1, 0.2) == REPRODUCED
    assert within(0.55, 0.4, 0.1, 0.2) == PARTLY
    assert within(0.75, 0.4, 0.1, 0.2) == NOT
    assert within(None, 0.4, 0.1, 0.2) == NOT
    assert share(0.95) == REPRODUCED and share(0.6) == PARTLY and share(0.2) == NOT
    assert in_range(14, (10, 20), (5, 50)) == REPRODUCED and in_range(30, (10, 20), (5, 50)) == PARTLY
    assert in_range(100, (10, 20), (5, 50)) == NOT and in_range(None, (10, 20), (5, 50)) == NOT


def test_a_proportion_is_undecided_when_its_interval_contains_the_threshold():
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high
    assert majority_holds(0.9, 300) is True and majority_holds(0.1, 300) is False
    assert majority_holds(0.52, 300) is None and majority_holds(0.52, 30000) is True


def test_undecided_cases_make_a_count_undecided_only_when_they_could_change_it():
    assert count_verdict([True] * 9 + [False], 9, 5) == REPRODUCED
    assert count_verdict([True] * 8 + [None, False], 9, 5) == UNDECIDED     # 8 or 9: partly or reproduced
    assert count_verdict([True] * 6 + [None] * 2 + [False] * 2, 9, 5) == PARTLY   # 6 to 8: partly either way
    assert count_verdict([False] * 10, 9, 5) == NOT


def test_levelling_off_is_none_when_no_size_qualifies():
    assert levelling_off(np.array([2, 5, 10, 20]), np.array([4.0, 2.0, 1.0, 1.05])) == 10
    assert levelling_off(np.array([2, 5, 10, 20]), np.array([4.0, 2.0, 1.0, 3.0])) is None


def test_ids_are_unique_and_every_claim_names_its_rule_and_when_it_was_fixed():
    claims = list(registry.REGISTRY.values())
    assert len({c.id for c in claims}) == len(claims)
    paper = [c for c in claims if c.source == PAPER]
    assert len(paper) >= 30
    assert all(c.rule and c.fixed and c.statement for c in claims)
    with pytest.raises(ValueError, match="defined twice"):
        registry._collect(claims[:1], claims[:1])


def record(notebook, values, dataset="mnist"):
    return {"notebook": notebook, "dataset": dataset, "profile": "smoke", "values": values}


def fig3_values(fraction_concept, fraction_memory):
    n = len(fraction_concept)
    return {"approaching_fraction_concept": fraction_concept, "approaching_fraction_memory": fraction_memory,
            "approaching_fraction_mahalanobis": [0.9] * n, "strict_fraction_concept": [0.8] * (n - 1) + [0.5],
            "segment_fraction_concept": [0.8] * n, "other_concepts_segment_fraction_max": [0.1] * n,
            "argmin_step_mean_concept": [12] * n, "argmin_step_mean_memory": [1] * n,
            "rise_after_minimum": [1.0] * n, "rise_sem": [0.1] * n, "cluster_radius": [1.0] * n, "trials": 300}


def test_each_reading_is_judged_from_its_own_values():
    swap = fig3_values([0.9] * 9 + [0.1], [0.2] * 10)
    flip = fig3_values([0.1] * 10, [0.9] * 10)
    rows = {r["id"]: r for r in claims_rows([record("03_concept_distances", {"readings": {"swap": swap, "flip": flip}})])}
    assert rows["fig3a.concept_dip"]["verdict (swap)"] == REPRODUCED       # 9 of 10 classes
    assert rows["fig3a.concept_dip"]["verdict (flip)"] == NOT
    assert rows["fig3b.memory_min_early"]["verdict (swap)"] == NOT
    assert rows["fig3b.memory_min_early"]["verdict (flip)"] == REPRODUCED
    # One class at exactly 1/2 of 300 trials: its majority is undecided, but 9 others hold.
    assert rows["fig3a.concept_dip_strict"]["verdict (swap)"] == REPRODUCED
    assert rows["fig3a.concept_dip_strict"]["ours (swap)"] == "9 of 10 hold, 1 undecided"
    assert rows["fig3a.concept_specific"]["verdict (swap)"] == REPRODUCED
    assert rows["fig4a.stage_order"]["verdict (swap)"] == MISSING           # chapter 04 did not run
    assert rows["suppD.fig3a.concept_dip"]["verdict (flip)"] == MISSING    # nor the Fashion-MNIST page


def test_a_noise_free_claim_shows_one_verdict_under_both_readings():
    rows = {r["id"]: r for r in claims_rows([record("06_latent_geometry", {"active_units": 15, "components_70": 20,
                                                                           "components_99": 30,
                                                                           "rms_off_diagonal_cosine": 0.2})])}
    active = rows["fig7a.active_units_14"]
    assert active["verdict (swap)"] == active["verdict (flip)"] == REPRODUCED
    assert rows["fig7b.components_70_is_9"]["verdict (swap)"] == NOT
    assert rows["fig7.concepts_orthogonal"]["verdict (flip)"] == PARTLY


def test_counts_cover_the_papers_claims_per_reading():
    rows = claims_rows([])
    counts = verdict_counts(rows)
    n_paper = sum(c.source == PAPER for c in registry.REGISTRY.values())
    assert counts["swap"][MISSING] == counts["flip"][MISSING] == n_paper


def test_page_verdicts_glue_one_name_per_claim_and_reading(monkeypatch):
    from vaedyn.book import claims

    glued = {}
    monkeypatch.setattr(claims, "glue", lambda name, value, display=False: glued.setdefault(name, value))
    values = {"readings": {"swap": fig3_values([0.9] * 10, [0.9] * 10), "flip": fig3_values([0.1] * 10, [0.9] * 10)}}
    rows = claims.page_verdicts("03_concept_distances", "mnist", values)
    assert {r["id"] for r in rows} == {c.id for c in registry.page_claims("03_concept_distances", "mnist")}
    assert glued[glue_name("fig3a.concept_dip", "swap")] == REPRODUCED
    assert glued[glue_name("fig3a.concept_dip", "flip")] == NOT
    assert glue_name("fig7a.active_units_14", registry.NO_READING) == "verdict__fig7a_active_units_14__none"


def test_values_print_as_the_tables_show_them():
    assert format_value(0.4, "p") == "p = 0.40" and format_value(None) == "-"
    assert format_value([True, None, False]) == "1 of 3 hold, 1 undecided"
    assert format_value(("undecided", "two clusters")) == "undecided, two clusters"


def test_the_favoured_reading_needs_a_margin_of_two_claims():
    from vaedyn.book.claims import favoured_reading

    def row(swap, flip, noisy=True, source=PAPER):
        return {"source": source, "noise-dependent": noisy, "verdict (swap)": swap, "verdict (flip)": flip}

    rows = [row(REPRODUCED, NOT), row(REPRODUCED, NOT), row(NOT, NOT), row(REPRODUCED, REPRODUCED, noisy=False)]
    assert favoured_reading(rows) == ("swap", {"swap": 2, "flip": 0})
    assert favoured_reading(rows[1:]) == ("neither reading", {"swap": 1, "flip": 0})
    assert favoured_reading(rows + [row(NOT, REPRODUCED, source="other")])[0] == "swap"


def test_each_seed_of_the_spread_is_judged_on_its_own_and_counted():
    from vaedyn.book.claims import compact_rows, seed_counts

    good, bad = fig3_values([0.9] * 10, [0.9] * 10), fig3_values([0.1] * 10, [0.9] * 10)
    results = {seed: [record("03_concept_distances", {"readings": {"swap": swap, "flip": bad}})]
               for seed, swap in ((0, good), (1, good), (2, bad))}
    rows = {r["id"]: r for r in claims_rows(results[0], results)}
    dip = rows["fig3a.concept_dip"]
    assert dip["seed verdicts (swap)"] == {0: REPRODUCED, 1: REPRODUCED, 2: NOT}
    assert dip["seed verdicts (flip)"] == {0: NOT, 1: NOT, 2: NOT}
    assert (dip["seeds (swap)"], dip["seeds (flip)"]) == ("2/3", "0/3")
    assert dip["seed values (swap)"][2] == dip["ours (flip)"]            # seed 2's swap values are flip's
    cell = next(r for r in compact_rows([dip]))["swap"]
    assert cell.startswith(REPRODUCED) and cell.endswith("seeds 2/3")
    # A page no seed ran, and a claim that is not about the main model, have no seed verdicts.
    assert rows["fig4a.stage_order"]["seeds (swap)"] == "-"
    not_main = next(c.id for c in registry.REGISTRY.values() if not c.main_model)
    assert rows[not_main]["seed verdicts (swap)"] == {} and rows[not_main]["seeds (flip)"] == "-"
    counts = seed_counts(list(rows.values()))
    fig3_claims = [c for c in registry.page_claims("03_concept_distances", "mnist")]
    assert counts["swap"]["measured"] == counts["flip"]["measured"] == len(fig3_claims)
    assert counts["swap"]["all"] + counts["swap"]["some"] + counts["swap"]["none"] == len(fig3_claims)
    assert counts["flip"]["some"] == 0 and counts["swap"]["differ"] >= 1


def test_a_single_seed_spread_adds_nothing_to_the_cells():
    from vaedyn.book.claims import compact_rows

    values = {"readings": {"swap": fig3_values([0.9] * 10, [0.9] * 10), "flip": fig3_values([0.1] * 10, [0.9] * 10)}}
    results = [record("03_concept_distances", values)]
    rows = claims_rows(results, {0: results})
    dip = next(r for r in rows if r["id"] == "fig3a.concept_dip")
    assert dip["seeds (swap)"] == "1/1" and "seeds" not in compact_rows([dip])[0]["swap"]


def test_an_architecture_carries_over_when_it_shares_the_mlps_decided_verdicts():
    from vaedyn.paper import architectures

    mlp = {"a": REPRODUCED, "b": NOT, "c": PARTLY, "d": UNDECIDED, "e": MISSING}
    assert architectures.verdict_agreement({"a": REPRODUCED, "b": NOT, "c": PARTLY, "d": NOT}, mlp) == 1.0
    # a model that reproduces what the MLP fails disagrees as much as one that fails what the MLP reproduces
    assert architectures.verdict_agreement({"a": REPRODUCED, "b": REPRODUCED, "c": NOT}, mlp) == pytest.approx(1 / 3)
    assert architectures.verdict_agreement({"a": NOT}, {"d": UNDECIDED}) is None   # the MLP decides nothing

    def rows(*verdicts):
        return [{"id": f"c{k}", "figure": "Fig.", "claim": f"claim {k}", "paper": "x", "ours (swap)": str(k),
                 "ours (flip)": "-", "verdict (swap)": v, "verdict (flip)": NOT} for k, v in enumerate(verdicts)]

    by_model = {"MLP": rows(REPRODUCED, NOT, REPRODUCED, PARTLY, NOT), "conv": rows(REPRODUCED, NOT, NOT, NOT, NOT),
                "beta-VAE (beta = 4)": rows(REPRODUCED, NOT, REPRODUCED, PARTLY, NOT), "IWAE (k = 5)": rows(*[NOT] * 5)}
    values = architectures.agreement_values(by_model)
    assert values["readings"]["swap"]["agreement"] == {"conv": 0.6, "beta-VAE (beta = 4)": 1.0, "IWAE (k = 5)": 0.4}
    assert set(values["readings"]["flip"]["agreement"].values()) == {1.0}
    judged = {c.id: registry.judge(c, values) for c in architectures.CLAIMS}
    assert {claim: verdicts["swap"]["verdict"] for claim, verdicts in judged.items()} == {
        "beyond.carries_over.conv": PARTLY, "beyond.carries_over.beta_vae": REPRODUCED,
        "beyond.carries_over.iwae": NOT}
    table = architectures.comparison_rows(by_model, "swap")
    assert len(table) == 5 and table[2]["conv"] == f"{NOT} (2)" and table[2]["MLP"] == f"{REPRODUCED} (2)"


def test_the_attractor_claims_read_the_summary_the_chapter_saves():
    from vaedyn.paper import attractors

    claims = {c.id: c for c in attractors.CLAIMS}
    summary = {"stable_end_share": 0.95, "end_kind_shares": {"memory": 0.0, "concept": 0.2, "abstract": 0.5,
                                                              "neither": 0.3}}
    values = {"readings": {"swap": summary, "flip": {**summary, "stable_end_share": 0.4}}, "pixel_fixed_share": 0.02}
    ends = registry.judge(claims["radhakrishnan.ends_at_attractors"], values)
    assert (ends["swap"]["verdict"], ends["flip"]["verdict"]) == (REPRODUCED, NOT)
    concept = registry.judge(claims["fig3.concepts_not_attractors"], values)["swap"]
    assert (concept["value"], concept["verdict"]) == (0.2, PARTLY)          # rare enough for partly only: <= 0.3
    stored = registry.judge(claims["radhakrishnan.training_images_stored"], values)
    assert list(stored) == [registry.NO_READING] and stored[registry.NO_READING]["verdict"] == NOT
    assert claims["fig3.concepts_not_attractors"].source == PAPER and "smoke" in claims["fig3.concepts_not_attractors"].fixed


def test_a_single_seed_spread_says_so_and_mixed_profiles_name_each_rows_page():
    from vaedyn.book.claims import compact_rows
    from vaedyn.book.record import seed_status_text
    from vaedyn.config import get_profile

    values = {"readings": {"swap": fig3_values([0.9] * 10, [0.9] * 10), "flip": fig3_values([0.1] * 10, [0.9] * 10)}}
    results = [record("03_concept_distances", values)]
    long = get_profile("long")
    assert seed_status_text({0: results}, long).startswith("So far only seed 0 of the long spread (seeds 0, 1, 2)")
    assert seed_status_text({}, long).startswith("No seed of the long spread")
    assert seed_status_text({0: results, 1: results}, long) == ""
    dip = next(r for r in claims_rows(results, {0: results}) if r["id"] == "fig3a.concept_dip")
    assert compact_rows([dip])[0]["figure"] == dip["figure"]
    assert compact_rows([dip], with_profile=True)[0]["figure"] == f"{dip['figure']} ({dip['profile']})"
