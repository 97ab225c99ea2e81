"""Music (issue 13): piano rolls and MIDI, the bach_chorales dataset, its sound, its claims and its chapter."""
import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_cli
from vaedyn.config import PROFILES, ConfigError, TrainConfig
from vaedyn.data import DataUnavailableError, load_dataset

pytest.importorskip("music21")

from vaedyn.music import audio, chorales, rolls  # noqa: E402  (after the skip: they need music21 to run)
from vaedyn.paper import music  # noqa: E402
from vaedyn.paper.rules import NOT, PARTLY, REPRODUCED, UNDECIDED  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = 12     # corpus files of the tests' own small dataset: 9 chorales, about 110 segments, built in ~1.5 s


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    """A data root holding the dataset built from the first SMALL corpus files."""
    root = tmp_path_factory.mktemp("music-data")
    chorales.chorale_table(root, corpus_limit=SMALL, progress=False)
    return root


def test_a_chorale_survives_roll_to_midi_and_back_exactly(tmp_path):
    score = chorales.parse_chorale(next(p for p in chorales.corpus_files() if p.name == "bwv269.mxl"))
    roll = chorales.score_to_roll(score, chorales.PITCHES)[:, :4 * chorales.BAR_STEPS]   # its first four bars
    assert roll.shape == (46, 64) and roll.sum() > 100 and set(np.unique(roll)) == {0, 1}
    path = rolls.roll_to_midi(roll, tmp_path / "four_bars.mid", chorales.PITCHES)
    assert np.array_equal(rolls.midi_to_roll(path, chorales.PITCHES, steps=roll.shape[1]), roll)
    # Each run of ones is one note: two adjacent runs of one pitch would have come back as one.
    rows, starts, lengths = rolls.roll_notes(roll)
    assert len(rolls.midi_notes(path)) == len(rows) and lengths.sum() == roll.sum()


def test_a_note_off_the_grid_is_refused_not_rounded():
    from music21 import note, stream

    part = stream.Part([note.Note("C4", quarterLength=1), note.Note("D4", quarterLength=0.125)])
    with pytest.raises(rolls.OffGridError, match="0.125"):
        rolls.score_notes(part)


def test_the_split_keeps_every_chorale_on_one_side(small_root):
    table = chorales.chorale_table(small_root, corpus_limit=SMALL)
    train, test = table.train_chorales(), table.test_chorales()
    assert train and test and not train & test
    assert len(train) + len(test) == len(table.chorales)
    for split in ("train", "test"):
        data = load_dataset("bach_chorales", split, root=small_root, corpus_limit=SMALL)
        chosen = table.split(split)
        assert {table.chorales[i] for i in data.labels["chorale"].tolist()} == (train if split == "train" else test)
        assert torch.equal(data.x, torch.from_numpy(table.rolls[chosen]).float())
        assert data.shape == (46, 32) and data.side is None and data.n_features == 46 * 32
        assert torch.equal(data.y, data.labels["key"] // 12)     # the mode is the key's mode


def test_the_build_is_deterministic_and_cached_under_its_checksum(small_root, tmp_path, monkeypatch):
    again = chorales.chorale_table(tmp_path, corpus_limit=SMALL, progress=False)
    first = chorales.read_table(next((small_root / "bach_chorales").glob("*.npz")))
    for name in ("rolls", "chorale", "start", "mode", "key", "is_test"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert (first.chorales, first.keys, first.skipped, first.checksum) == \
        (again.chorales, again.keys, again.skipped, again.checksum)
    # A second call reads the cache and parses nothing.
    monkeypatch.setattr(chorales, "parse_chorale", lambda path: pytest.fail("the cache was not used"))
    assert chorales.chorale_table(tmp_path, corpus_limit=SMALL).checksum == again.checksum
    # A damaged cache file gives one clear error naming it, not a traceback from deep in numpy.
    damaged = tmp_path / "damaged"
    (damaged / "bach_chorales").mkdir(parents=True)
    path = chorales.cache_path(tmp_path, again.checksum)
    (damaged / "bach_chorales" / path.name).write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataUnavailableError, match="cannot be read.*delete it"):
        chorales.chorale_table(damaged, corpus_limit=SMALL)
    # Other inputs, another file: the checksum covers the build parameters.
    monkeypatch.setattr(chorales, "HOP_STEPS", 2 * chorales.BAR_STEPS)
    assert chorales.input_checksum(chorales.corpus_files(SMALL)) != again.checksum


def test_bad_dataset_names_and_corpus_limits_give_one_clear_error(capsys):
    with pytest.raises(ConfigError, match="dataset='bach'.*bach_chorales"):
        load_dataset("bach")
    with pytest.raises(ConfigError, match="corpus_limit=5 is not allowed with dataset='mnist'"):
        TrainConfig(corpus_limit=5)
    code, _, err = run_cli(["train", "--dataset", "bach_choral"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "bach_chorales" in err


def test_a_new_option_leaves_every_existing_store_key_alone():
    assert "corpus_limit" not in TrainConfig().to_dict()
    assert all("corpus_limit" not in PROFILES[p].train_config("mnist").to_dict() for p in PROFILES)
    assert PROFILES["smoke"].train_config("bach_chorales").corpus_limit == PROFILES["smoke"].music_corpus_limit


def test_train_and_infer_on_the_chorales_from_the_command_line(small_root, tmp_path, monkeypatch, capsys):
    """The CLI trains the profile's music model, whose input size comes from the rolls, and runs repeated
    inference from noisy segments of one mode; the training history has the curves of Gentili's Fig. 5."""
    monkeypatch.setenv("VAEDYN_DATA", str(small_root))
    monkeypatch.setitem(PROFILES, "smoke", dataclasses.replace(PROFILES["smoke"], music_corpus_limit=SMALL))
    code, out, err = run_cli(["train", "--dataset", "bach_chorales", "--profile", "smoke", "--nz", "4",
                              "--no-progress"], capsys)
    assert code == 0, err
    assert "final test negative ELBO" in out
    from vaedyn.training.store import get_or_train

    trained = get_or_train(PROFILES["smoke"].train_config("bach_chorales", nz=4), device="cpu", progress=False)
    assert trained.model.n_features == 46 * 32
    assert {"train_kl", "test_kl", "train_negative_elbo", "test_negative_elbo"} <= set(trained.history[-1])
    out_file = tmp_path / "music.npz"
    code, out, err = run_cli(["infer", "--dataset", "bach_chorales", "--profile", "smoke", "--nz", "4", "--label", "0",
                              "--trials", "3", "--steps", "4", "--record-x", "--out", str(out_file), "--no-progress"],
                             capsys)
    assert code == 0, err
    with np.load(out_file) as written:
        assert written["z"].shape == (5, 3, 4) and written["x"].shape == (5, 3, 46 * 32)


def test_the_fallback_synthesis_gives_compressed_audio_of_the_rolls_length():
    roll = np.zeros((46, 32), dtype=np.uint8)
    roll[24, :16] = 1                                   # middle C (MIDI 36 + 24) held for one bar
    clip, silent = audio.roll_clips([roll, np.zeros_like(roll)], chorales.PITCHES, synth="additive")
    assert clip.data[:4] == b"OggS" and clip.mime.startswith("audio/ogg") and clip.synthesiser == "additive"
    samples, rate = audio.decode(clip.data)
    expected = audio.roll_seconds(32) + audio.TAIL_SECONDS          # 8 quarters at 80 bpm, plus the tail
    assert expected == pytest.approx(6.5) and len(samples) / rate == pytest.approx(expected, abs=0.01)
    assert len(clip.data) < 2 * rate * expected / 5       # well under a 16-bit PCM file of the same length
    bar = int(audio.roll_seconds(16) * rate)
    loud, quiet = np.sqrt(np.mean(samples[:bar] ** 2)), np.sqrt(np.mean(samples[bar + rate // 10:] ** 2))
    assert loud > 0.1 and quiet < 0.01                 # sound while the note is on, silence after it
    assert np.sqrt(np.mean(audio.decode(silent.data)[0] ** 2)) < 1e-3
    assert clip.html().startswith('<audio controls') and "base64," in clip.html()


def test_the_curves_rule_and_the_combined_stage_rule():
    history = [{"epoch": e, "train_negative_elbo": l, "test_negative_elbo": l, "train_kl": k, "test_kl": k}
               for e, (l, k) in enumerate([(400, 20), (380, 23), (370, 22), (360, 26)], 1)]
    curves = music.curve_summary(history)
    assert (curves["kl_first"], curves["kl_last"], curves["loss_last"]) == (20, 26, 360)
    assert music._curves_verdict(curves) == REPRODUCED
    assert music._curves_verdict({**curves, "kl_rho": 0.2}) == PARTLY
    assert music._curves_verdict({**curves, "kl_last": 19}) == NOT
    exact, two, ties = ("I-II-III", ["I-II-III"]), ("I-III", ["I-III"]), ("I-III", ["I-III", "I-II-III"])
    assert music._orders_verdict({"0": exact, "1": exact}) == REPRODUCED
    assert music._orders_verdict({"0": exact, "1": two}) == PARTLY
    assert music._orders_verdict({"0": ties, "1": exact}) == UNDECIDED
    assert music._orders_verdict({"0": ties, "1": ("I", ["I"])}) == NOT


def test_key_concepts_reuse_the_memory_vectors_of_their_segments():
    from vaedyn.analysis.concepts import ConceptSet, concept_vectors

    memory = torch.arange(12.0).reshape(6, 2)
    keys = torch.tensor([7, 7, 9, 21, 21, 21])        # G major twice, A major once, A minor three times
    by_mode = ConceptSet(memory=memory, labels=keys // 12, concepts=concept_vectors(memory, keys // 12, 2),
                         abstract=memory.mean(0))
    assert music.large_keys(keys, 2) == [21, 7]
    key_set, rows = music.key_concepts(by_mode, keys, [21, 7])
    assert rows.tolist() == [0, 1, 3, 4, 5] and key_set.labels.tolist() == [1, 1, 0, 0, 0]
    assert torch.equal(key_set.concepts, torch.stack([memory[3:].mean(0), memory[:2].mean(0)]))


def test_the_chapter_is_listed_and_its_parameters_are_consistent():
    import papermill
    import yaml

    from vaedyn import book

    parameters = papermill.inspect_notebook(str(ROOT / "notebooks" / "15_music.ipynb"))
    assert parameters["dataset"]["default"].strip("\"'") == "bach_chorales"
    assert book.Chapter("15_music", "bach_chorales") in book.CHAPTERS
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "book/bach_chorales/15_music" in files
    assert book.Chapter("15_music", "bach_chorales").output(Path("book")) == Path("book/bach_chorales/15_music.ipynb")
    defaults = {name: ast.literal_eval(p["default"]) for name, p in parameters.items()}
    run = book.start("15_music", defaults["profile"], defaults["dataset"], "cpu", defaults["seed"], show=False,
                     datasets=("bach_chorales",), p_values={"listen_p": defaults["listen_p"]}, noise=defaults["noise"])
    assert run.main_config().dataset == "bach_chorales"
    with pytest.raises(ConfigError, match="dataset='mnist'"):
        book.start("15_music", "smoke", "mnist", "cpu", 0, show=False, datasets=("bach_chorales",))
    for profile in PROFILES.values():     # every profile has a music budget
        assert profile.train_config("bach_chorales").epochs == profile.music_epochs
    with pytest.raises(ConfigError, match="music_key_min_segments=20"):   # fewer segments than quick's 30 trials
        dataclasses.replace(PROFILES["quick"], music_key_min_segments=20)
