from vaedyn.claims import MISSING, NOT, PARTLY, REPRODUCED, claims_table, share, within


def test_tolerance_rules():
    assert within(0.45, 0.4, 0.1, 0.2) == REPRODUCED
    assert within(0.55, 0.4, 0.1, 0.2) == PARTLY
    assert within(0.75, 0.4, 0.1, 0.2) == NOT
    assert within(None, 0.4, 0.1, 0.2) == NOT
    assert share(0.95) == REPRODUCED and share(0.6) == PARTLY and share(0.2) == NOT


def record(notebook, values, dataset="mnist"):
    return {"notebook": notebook, "dataset": dataset, "profile": "smoke", "values": values}


def sweep(stages, boundaries, memory_steps):
    return {"stages": stages, "boundaries": boundaries,
            "argmin_step_mean": {"memory": memory_steps, "concept": [5, 5, 5], "abstract": [9, 9, 9]}}


def test_table_judges_each_claim_from_the_results():
    results = [
        record("03_concept_distances", {"approaching_fraction_concept": [0.9] * 9 + [0.1],
                                        "approaching_fraction_memory": [0.2] * 10}),
        record("04_hierarchy_stages", {"sweeps": {"swap": {"6": sweep(
            ["I", "II", "III"], [{"from": "I", "to": "II", "p": 0.15}, {"from": "II", "to": "III", "p": 0.65}],
            [1, 6, 2])}}}),
        record("05_classifier_steps", {"p_grid": [0.0, 0.3, 0.6], "first_p_not_always_correct": {"6": 0.3},
                                       "recovery_windows": {"6": [[1, 9], [20, 30], None]}}),
        record("06_latent_geometry", {"active_units": 15, "components_70": 20}),
    ]
    by_figure = {}
    for row in claims_table(results):
        by_figure.setdefault(row["figure"], []).append(row["verdict"])
    assert by_figure["Fig. 3a"] == [REPRODUCED]          # 9 of 10 labels
    assert by_figure["Fig. 3b"] == [NOT]
    assert by_figure["Fig. 4a"] == [REPRODUCED]          # I-II-III in order
    assert by_figure["Figs. 4a, 5a"] == [NOT]            # stage III from 0.65, paper 0.4
    assert by_figure["Fig. 4b"] == [PARTLY]              # memory earliest at 2 of 3 p
    assert by_figure["Fig. 5a"] == [REPRODUCED, REPRODUCED]   # 0.3 vs 0.4; no window from 0.6 vs 0.7
    assert by_figure["Fig. 7a"] == [REPRODUCED] and by_figure["Fig. 7b"] == [NOT]
    assert by_figure["Fig. 2c"] == [MISSING] and by_figure["Supp. D"] == [MISSING, MISSING]


def test_a_results_file_without_the_key_is_reported_not_guessed():
    rows = claims_table([record("06_latent_geometry", {"components_70": 9})])
    active = next(r for r in rows if r["figure"] == "Fig. 7a")
    assert active["verdict"].startswith(MISSING) and "KeyError" in active["verdict"]


def test_latent_size_claims_and_page_verdicts_agree():
    from vaedyn.claims import in_range, verdicts_for

    assert in_range(14, (10, 20), (5, 50)) == REPRODUCED and in_range(30, (10, 20), (5, 50)) == PARTLY
    assert in_range(100, (10, 20), (5, 50)) == NOT and in_range(None, (10, 20), (5, 50)) == NOT
    fig8 = {"spearman_nz_orthogonality": -0.6, "levelling_off_nz": 8, "approaching_fraction": [0.1, 0.5, 0.4]}
    fig9 = {"optimum_nz_elbo": 100}
    rows = claims_table([record("07_latent_dimension", fig8), record("08_generalization", fig9)])
    by_figure = {row["figure"]: row["verdict"] for row in rows}
    assert by_figure["Fig. 8 (trend)"] == PARTLY and by_figure["Fig. 8 (level)"] == PARTLY
    assert by_figure["Fig. 8 (right)"] == PARTLY and by_figure["Fig. 9"] == NOT
    assert verdicts_for("mnist", "07_latent_dimension", fig8) == {
        "Fig. 8 (trend)": PARTLY, "Fig. 8 (level)": PARTLY, "Fig. 8 (right)": PARTLY}
    assert verdicts_for("fashion_mnist", "08_generalization", fig9) == {}


def test_claims_from_the_other_sources_name_their_source_and_judge_by_their_rules():
    from vaedyn.claims import CLAIMS, NOT, PARTLY, REPRODUCED, claims_table, verdicts_for

    assert {c.source for c in CLAIMS if c.notebook in ("09_training_dynamics", "10_latent_representations")} == {
        "Gentili", "EM-to-SVI tutorial", "Peşte et al."}
    page_09 = verdicts_for("mnist", "09_training_dynamics",
                           {"kl_rises_fraction": 1.0, "rank_4_9": 7, "two_d_test_negative_elbo": 170.0})
    assert page_09 == {"Gentili: KL": REPRODUCED, "EM-to-SVI: 2-D map": PARTLY, "EM-to-SVI: 2-D loss": NOT}
    page_10 = verdicts_for("mnist", "10_latent_representations", {
        "informative_growth_last": 0.2, "axis_alignment": 0.95, "gap_shrinks_fraction": 0.5,
        "best_probe_mean": 0.935, "variance_helps_fraction": 0.0, "variance_bulge_fraction": 1.0,
        "sharpness_difference": [0.01, -0.02, 0.04]})
    assert page_10 == {"Peşte: Fig. 2 (left)": PARTLY, "Peşte: Sec. 2.1": REPRODUCED, "Peşte: Fig. 2 (right)": PARTLY,
                       "Peşte: Fig. 3 (left)": REPRODUCED, "Peşte: Fig. 3 (centre)": NOT,
                       "Peşte: Fig. 4": REPRODUCED, "Peşte: Fig. 5": PARTLY}
    row = next(r for r in claims_table([]) if r["figure"] == "Peşte: Fig. 5")
    assert row["source"] == "Peşte et al." and row["reported"] == "sharper"
