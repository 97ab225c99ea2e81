"""The book pipeline: sources, the committed record, and a full smoke build rendered in a browser."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import requires_mnist
from vaedyn import book
from vaedyn.config import ConfigError, get_profile
from vaedyn.paper.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_RECORD_BYTES = 3 * 1024 * 1024
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def code_sources(path: Path) -> list[str]:
    """Code cells of a notebook, without the cell papermill injects."""
    nb = nbformat.read(str(path), as_version=4)
    return [c.source for c in nb.cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def error_outputs(path: Path) -> list[str]:
    nb = nbformat.read(str(path), as_version=4)
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def formatted_glue_problems(path: Path) -> list[str]:
    """Formatted references ({glue:text}`name:.1f`) whose glued value is missing or not a number."""
    nb = nbformat.read(str(path), as_version=4)
    glued = {o["metadata"]["scrapbook"]["name"]: o.get("data", {}).get(o["metadata"]["scrapbook"].get("mime_prefix", "") + "text/plain", "")
             for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "scrapbook" in o.get("metadata", {})}
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for name, spec in re.findall(r"\{glue:text\}`([^`:]+):([^`]+)`", cell.source):
            try:
                format(float(glued[name]), spec)
            except (KeyError, ValueError) as exc:
                problems.append(f"{name}:{spec} -> {glued.get(name, 'not glued')!r} ({exc})")
    return problems


def test_every_chapter_has_a_source():
    assert {c.notebook for c in book.CHAPTERS} == {p.stem for p in SOURCES}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_sources_are_clean_and_parameterised(source):
    nb = nbformat.read(str(source), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs from the source"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    for name in ("profile", "device", "seed", "results_dir"):
        assert f"{name} =" in code[0].source, f"parameters cell lacks {name}"
    assert book.RUN_INFO_TAG in code[1].metadata.get("tags", []) and "book.start(" in code[1].source
    assert nb.metadata.kernelspec.name == "python3"
    # The rendered page shows figures, tables and prose; the code behind them stays one click away.
    assert all("hide-input" in c.metadata.get("tags", []) for c in code), "tag every code cell 'hide-input'"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_parameters_cells_parse_for_papermill_help(source, caplog):
    """`papermill --help-notebook` lists every parameter with its default and comment; a line papermill
    cannot parse is dropped with a warning."""
    import papermill

    with caplog.at_level("WARNING", logger="papermill"):
        parameters = papermill.inspect_notebook(str(source))
    assert not [r.getMessage() for r in caplog.records if "parse" in r.getMessage()]
    assert {"profile", "device", "seed", "results_dir"} <= set(parameters)
    assert all(p["help"] for name, p in parameters.items() if name not in ("seed",)), \
        [name for name, p in parameters.items() if not p["help"]]


@pytest.mark.parametrize("chapter", book.CHAPTERS, ids=lambda c: f"{c.dataset}/{c.notebook}")
def test_committed_record_is_current(chapter):
    record = chapter.output(ROOT / "book")
    assert record.exists(), f"{record} is missing: run `make book`"
    assert code_sources(record) == code_sources(ROOT / "notebooks" / f"{chapter.notebook}.ipynb"), \
        f"{record} is stale: its code differs from notebooks/{chapter.notebook}.ipynb; rerun it"
    assert error_outputs(record) == []
    assert formatted_glue_problems(record) == [], "a formatted glue reference cannot render"
    assert record.stat().st_size <= MAX_RECORD_BYTES
    assert "Wall time" in record.read_text(), "the page lacks its wall-time stamp"


def test_wall_time_stamp_replaces_the_previous_one(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 90.0}
    cell = nbformat.v4.new_code_cell("run = 1", metadata={"tags": [book.RUN_INFO_TAG]})
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), cell]
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, str(path))
    assert book.stamp_wall_time(path) == 90.0
    book.stamp_wall_time(path)
    outputs = nbformat.read(str(path), as_version=4).cells[1].outputs
    assert len(outputs) == 1 and "1.5 min" in outputs[0].data["text/markdown"]
    nb.cells = nb.cells[:1]
    nbformat.write(nb, str(path))
    with pytest.raises(ValueError, match="run-info"):
        book.stamp_wall_time(path)


def test_start_validates_every_parameter(tmp_path):
    common = dict(notebook="x", results_dir=tmp_path, show=False)
    with pytest.raises(ConfigError, match="dataset='svhn'"):
        book.start(dataset="svhn", **common)
    with pytest.raises(ConfigError, match="p=1.5"):
        book.start(p_values={"p": 1.5}, **common)
    with pytest.raises(ConfigError, match="p_grid=-0.2"):
        book.start(p_values={"p_grid": [0.1, -0.2]}, **common)
    with pytest.raises(ConfigError, match="trials=0"):
        book.start(trials={"trials": 0}, **common)
    with pytest.raises(ConfigError, match="noise='salt'"):
        book.start(noise="salt", **common)
    run = book.start(dataset="digits", profile="smoke", device="cpu", **common)
    path = run.save_results({"a": 1.5})
    assert json.loads(path.read_text())["values"] == {"a": 1.5} and path.parent.name == "digits"


def test_a_results_file_names_every_model_the_run_loaded_with_its_epochs(tmp_path, tiny_config):
    """The record mixes budgets (main model, grids, snapshots, the CNN): each results file says which."""
    from vaedyn.config import ClassifierConfig
    from vaedyn.training import store
    from vaedyn.training.classifier import get_or_train_classifier

    store.get_or_train(tiny_config, device="cpu", progress=False)            # before the run: not its model
    run = book.start("x", dataset="digits", profile="smoke", device="cpu", results_dir=tmp_path, show=False)
    snapshot = tiny_config.snapshot(2)
    for config in (snapshot, tiny_config, snapshot):                         # a repeat is listed once
        store.get_or_train(config, device="cpu", progress=False)
    cnn = ClassifierConfig(dataset="digits", epochs=1, train_limit=300)
    get_or_train_classifier(cnn, device="cpu", progress=False)
    models = json.loads(run.save_results({"a": 1}).read_text())["models"]
    assert [(m["kind"], m["epochs"]) for m in models] == [("vae", 2), ("vae", 3), ("classifier", 1)]
    assert models[0] == {"kind": "vae", "key": store.config_key("vae", snapshot.to_dict()), "dataset": "digits",
                         "nz": 4, "epochs": 2, "seed": 3, "train_limit": None}
    assert models[2]["train_limit"] == 300 and "nz" not in models[2]


def test_build_rejects_unknown_chapters(tmp_path):
    with pytest.raises(ConfigError, match="only='99_nothing'"):
        book.build(profile="smoke", book_dir=tmp_path, only=["99_nothing"])
    with pytest.raises(ConfigError, match="01_training.ipynb is missing"):   # before any page runs
        book.build(profile="smoke", book_dir=tmp_path, notebooks_dir=tmp_path / "no-such-folder")


def test_the_seed_spread_runs_before_the_pages_that_count_it(tmp_path, monkeypatch):
    from vaedyn.book import record, runner

    long = get_profile("long")
    runs = book.chapters_for(long)
    spread = [c for c in runs if c.spread_seed is not None]
    # long stops the spread early, so seed 0 runs again; quick reads seed 0 from the record itself
    assert {c.spread_seed for c in spread} == {0, 1, 2}
    assert {c.spread_seed for c in book.chapters_for(get_profile("quick")) if c.spread_seed is not None} == {1, 2}
    assert len(spread) == 3 * 2 * len(book.SPREAD_NOTEBOOKS)
    first_reader = min(i for i, c in enumerate(runs) if c.notebook in book.READER_PAGES)
    assert max(i for i, c in enumerate(runs) if c.spread_seed is not None) < first_reader
    assert all(c.output(tmp_path / "book").is_relative_to(tmp_path / "_build") for c in spread)

    executed = []
    monkeypatch.setattr(runner, "execute", lambda source, output, parameters, cwd=".": executed.append(
        (Path(source).stem, parameters)) or 1.0)
    book.build(profile="long", device="cpu", book_dir=tmp_path / "book", only=["spread/04_hierarchy_stages"])
    assert [(name, p["seed"], p["dataset"], p["epochs"]) for name, p in executed] == [
        ("04_hierarchy_stages", seed, dataset, 100) for seed in (0, 1, 2) for dataset in ("mnist", "fashion_mnist")]
    assert executed[1][1]["results_dir"] == str(tmp_path / "book" / "results" / "spread" / "seed-0")
    timed = record.spread_wall_time(tmp_path / "book" / "results")
    assert book.load_results(tmp_path / "book" / "results") == []
    assert set(timed) == {f"spread/seed-{s}/{d}/04_hierarchy_stages" for s in (0, 1, 2) for d in ("mnist", "fashion_mnist")}
    executed.clear()
    book.build(profile="quick", device="cpu", book_dir=tmp_path / "book", only=["04_hierarchy_stages"])
    assert [(p["seed"], p["dataset"], "epochs" in p) for _, p in executed] == [(0, "mnist", False),
                                                                             (0, "fashion_mnist", False)]


def test_parallel_lanes_keep_every_dependency_and_select_exactly_their_runs():
    from vaedyn.book.chapters import lanes, select_runs
    from vaedyn.book.runner import _exact_name

    quick = get_profile("quick")
    runs = book.chapters_for(quick)
    stages = lanes(runs)
    assert [c.name() for lane in stages[0] for c in lane] == ["01_training", "fashion_mnist/01_training"]
    assert [c.notebook for c in stages[-1][0]] == list(book.READER_PAGES)
    assert sorted(c.name() for stage in stages for lane in stage for c in lane) == sorted(c.name() for c in runs)
    spread_lanes = [lane for lane in stages[1] if lane[0].spread_seed is not None]
    assert sorted(lane[0].spread_seed for lane in spread_lanes) == [1, 2]       # quick: MNIST only
    shared = [lane for lane in stages[1] if len(lane) > 1 and lane[0].spread_seed is None]
    assert [[c.name() for c in lane] for lane in shared] == \
        [["07_latent_dimension", "09_training_dynamics", "10_latent_representations", "13_architectures",
          "14_attractors"]]                                                 # 10 and 14 read what 07, 09, 13 train
    others = [lane for lane in stages[1] if lane[0].spread_seed is None and lane not in shared]
    assert all(len(lane) == 1 for lane in others) and len(others) == 17                 # the rest, music too: a lane each
    for lane in stages[1]:
        assert lane[0].spread_seed is None or [c.notebook for c in lane] == list(book.SPREAD_NOTEBOOKS)
    # longest lane first by the last record's times: a made-up record where page 11 is slowest
    slow = {c.name(): 1000.0 if c.notebook == "11_markov_chains" else 1.0 for c in runs}
    assert [c.name() for c in lanes(runs, slow)[1][0]] == ["11_markov_chains"]
    totals = [sum(slow[c.name()] for c in lane) for lane in lanes(runs, slow)[1]]
    assert totals == sorted(totals, reverse=True)
    for stage in stages:
        for lane in stage:
            assert select_runs(quick, [_exact_name(c) for c in lane]) == lane   # a worker runs its lane, no more
            assert [runs.index(c) for c in lane] == sorted(runs.index(c) for c in lane)   # in the build's order


def test_time_left_uses_the_last_record_and_this_builds_pace():
    from vaedyn.book.runner import time_left

    runs = [book.Chapter("03_concept_distances"), book.Chapter("04_hierarchy_stages"), book.Chapter("90_claims")]
    assert time_left(runs, {"03_concept_distances": 60, "04_hierarchy_stages": 120, "90_claims": 60}, []) == \
        "3 runs, about 4 min left"
    assert time_left(runs, {"03_concept_distances": 60}, [300.0]) == "3 runs, about 11 min left"   # 1 + 2 x 5 min
    assert "unknown" in time_left(runs, {}, [])


def test_a_page_runs_without_tcp_and_its_progress_reaches_the_terminal_not_the_page(tmp_path, capfd):
    source = nbformat.v4.new_notebook()
    source.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_code_cell("n = 3", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("print('on the page')", metadata={"tags": ["run-info"]}),
             nbformat.v4.new_code_cell("from tqdm import tqdm\nfrom vaedyn.progress import progress_file\n"
                                       "for _ in tqdm(range(n), desc='relay-check', file=progress_file()): pass")]
    source.cells = cells
    nbformat.write(source, str(tmp_path / "source.ipynb"))
    book.execute(tmp_path / "source.ipynb", tmp_path / "out.ipynb", {"n": 5}, cwd=tmp_path)
    outputs = json.dumps([c.get("outputs", []) for c in nbformat.read(str(tmp_path / "out.ipynb"), 4).cells])
    assert "on the page" in outputs and "relay-check" not in outputs
    err = capfd.readouterr().err
    assert "relay-check" in err and "5/5" in err
    assert "without encryption" not in err


def test_spread_results_of_seed_0_come_from_the_record_unless_the_spread_stops_early(tmp_path):
    from vaedyn.book.record import spread_description
    from vaedyn.files import atomic_write_json

    def write(folder, seed, notebook="03_concept_distances", dataset="mnist", epochs=9, profile="quick"):
        atomic_write_json({"notebook": notebook, "dataset": dataset, "seed": seed, "epochs": epochs, "values": {},
                           "profile": profile}, folder / dataset / f"{notebook}.json")

    results = tmp_path / "results"
    write(results, 0)
    write(results / "spread" / "seed-1", 1)
    # The record's other pages are not the spread's: not the readers' own files from an earlier build at
    # another budget, not a dataset outside quick's spread.
    write(results, 0, notebook="90_claims", epochs=10)
    write(results, 0, dataset="fashion_mnist", epochs=10)
    quick = book.load_spread(results, get_profile("quick"))
    assert {seed: [r["seed"] for r in rs] for seed, rs in quick.items()} == {0: [0], 1: [1]}   # seed 2: not run yet
    assert spread_description(quick, get_profile("quick"))["epochs"] == "9"
    assert spread_description(quick, get_profile("quick"))["coverage"] == "seeds 0, 1 for MNIST"
    # A spread part way names each dataset's measured seeds, not the profile's plan.
    long = get_profile("long")
    partial = {0: [{"dataset": "mnist"}, {"dataset": "fashion_mnist"}], 1: [{"dataset": "mnist"}],
               2: [{"dataset": "mnist"}]}
    assert spread_description(partial, long)["coverage"] == "seeds 0, 1, 2 for MNIST and seed 0 for Fashion-MNIST"
    whole = {seed: [{"dataset": "mnist"}, {"dataset": "fashion_mnist"}] for seed in (0, 1, 2)}
    assert spread_description(whole, long)["coverage"] == "seeds 0, 1, 2 for MNIST and Fashion-MNIST"
    assert spread_description({}, long)["coverage"] == "no seed yet"
    write(results / "spread" / "seed-2", 2, epochs=100, profile="long")
    assert sorted(book.load_spread(results, get_profile("long"))) == [2]   # seed 0 at 100 epochs: not run; 1: quick's
    # A record part way to another budget: seed 0's page re-executed under long is not quick's seed 0.
    write(results, 0, epochs=1500, profile="long")
    assert sorted(book.load_spread(results, get_profile("quick"))) == [1]


# ---------------------------------------------------------------------------------------------
# The whole pipeline in the smoke profile: every notebook through papermill, then Jupyter Book.

SPREAD_SAMPLE = "spread/seed-1/mnist/03_concept_distances"


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Execute every chapter (smoke) into a temporary book and render it with Jupyter Book."""
    if not (Path(os.environ.get("VAEDYN_DATA", "data")) / "MNIST" / "raw").exists():
        pytest.skip("MNIST files are not under $VAEDYN_DATA: the book needs them")
    site = tmp_path_factory.mktemp("site")
    previous = os.environ.get("VAEDYN_ARTIFACTS")
    os.environ["VAEDYN_ARTIFACTS"] = str(site / "artifacts")
    # Every page, and one run of the seed spread (all of it would add ten pages to CI), on two worker
    # processes as `make book` runs the smoke and quick books.
    pages = sorted({c.notebook for c in book.CHAPTERS})
    # Servers and CI often set MPLBACKEND=Agg; the kernels inherit it, and the pages must still get
    # their figures (the browser test below checks every chapter has one).
    previous_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        book.build(profile="smoke", device="cpu", book_dir=site / "book", results_dir=site / "book" / "results",
                   notebooks_dir=ROOT / "notebooks", cwd=ROOT, only=[*pages, SPREAD_SAMPLE], jobs=2)
    finally:
        for name, value in (("VAEDYN_ARTIFACTS", previous), ("MPLBACKEND", previous_backend)):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    for page in (ROOT / "book").glob("*.md"):
        shutil.copy(page, site / "book" / page.name)
    shutil.copy(ROOT / "book" / "references.bib", site / "book" / "references.bib")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(site), "-W", "--keep-going"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return site


@requires_mnist
def test_smoke_pages_execute_without_errors(smoke_book):
    for chapter in book.CHAPTERS:
        page = chapter.output(smoke_book / "book")
        assert page.exists() and error_outputs(page) == []
    results = book.load_results(smoke_book / "book" / "results")
    assert {(r["dataset"], r["notebook"]) for r in results} >= {(c.dataset, c.notebook) for c in book.CHAPTERS
                                                                 if c.notebook not in book.READER_PAGES}


@requires_mnist
def test_the_seed_spread_reaches_the_claims_page(smoke_book):
    """A run of the spread trains its own seed's model, writes its results beside the record, and the claims
    page judges each main-model claim of that chapter once per seed, with the count of seeds reproducing it."""
    from vaedyn.book.claims import seeds_text

    results = smoke_book / "book" / "results"
    spread = book.load_spread(results, get_profile("smoke"))
    assert sorted(spread) == [0, 1]
    (seed_1,) = spread[1]
    assert (seed_1["notebook"], seed_1["dataset"], seed_1["seed"]) == ("03_concept_distances", "mnist", 1)
    seed_0 = next(r for r in spread[0] if r["notebook"] == "03_concept_distances" and r["dataset"] == "mnist")
    assert seed_1["values"] != seed_0["values"]          # another model, not the record read twice
    claims_page = next(r for r in book.load_results(results) if r["notebook"] == "90_claims")
    assert claims_page["values"]["spread_seeds"] == [0, 1]
    rows = {row["id"]: row for row in claims_page["values"]["claims"]}
    for claim_id, row in rows.items():
        for reading in ("swap", "flip"):
            seeds = set(row[f"seed verdicts ({reading})"])
            if (REGISTRY[claim_id].notebook, row["dataset"]) == ("03_concept_distances", "mnist"):   # the smoke spread
                assert seeds == {"0", "1"}, claim_id
                assert row[f"seeds ({reading})"] == seeds_text(
                    [{"verdict": v} for v in row[f"seed verdicts ({reading})"].values()])
            elif not row["main model"]:
                assert seeds == set() and row[f"seeds ({reading})"] == "-", claim_id
    assert not (smoke_book / "book" / "spread").exists()   # spread pages are not pages of the book


def glued_values(page: Path) -> dict[str, object]:
    """Every value a page glued (myst-nb keeps glue outputs under metadata 'scrapbook'), as Python values."""
    import ast

    values = {}
    for cell in nbformat.read(str(page), as_version=4).cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            text = meta and output.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain")
            if text is not None and meta:
                try:
                    values[meta["name"]] = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    values[meta["name"]] = text
    return values


@requires_mnist
def test_every_verdict_a_chapter_glues_is_the_claims_pages_verdict(smoke_book):
    """The registry is the one place a verdict is decided: each chapter glues the verdict of every claim it
    measures, per reading, and it must equal the claims page's; no chapter glues a verdict of its own."""
    from vaedyn.book.claims import GLUE_PREFIX, glue_name
    from vaedyn.paper.registry import NO_READING

    claims_page = next(r for r in book.load_results(smoke_book / "book" / "results") if r["notebook"] == "90_claims")
    rows = {row["id"]: row for row in claims_page["values"]["claims"]}
    assert set(rows) == set(REGISTRY)
    checked = 0
    for chapter in book.CHAPTERS:
        if chapter.notebook in book.READER_PAGES:
            continue
        glued = glued_values(chapter.output(smoke_book / "book"))
        assert not [name for name in glued if name.startswith("verdict") and not name.startswith(GLUE_PREFIX)]
        expected = {}
        for claim in REGISTRY.values():
            if (claim.notebook, claim.dataset) != (chapter.notebook, chapter.dataset):
                continue
            for reading in (("swap", "flip") if claim.noise_dependent else (NO_READING,)):
                column = "swap" if reading == NO_READING else reading
                expected[glue_name(claim.id, reading)] = rows[claim.id][f"verdict ({column})"]
        assert {name: glued.get(name) for name in expected} == expected, chapter
        assert {name for name in glued if name.startswith(GLUE_PREFIX)} == set(expected), chapter
        checked += len(expected)
    assert checked >= len(REGISTRY)


def record_state() -> tuple[str, dict[str, str]]:
    """What a run must not touch: git's view of the tracked files and the bytes of the results files."""
    import hashlib

    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                            text=True).stdout
    results = {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted((ROOT / "book" / "results").rglob("*.json"))}
    return status, results


@requires_mnist
@pytest.mark.parametrize("where", ["outside", "root"])
def test_a_direct_papermill_run_leaves_the_record_alone(where, tmp_path, monkeypatch):
    """The README's parameterised run, from a folder outside the repository and from its root: data and
    artifacts are found from the project, the results land beside the output notebook (in vaedyn-results/,
    which git ignores), the committed record and every tracked file are untouched."""
    import papermill

    folder = tmp_path if where == "outside" else ROOT
    results = folder / "vaedyn-results" / "fashion_mnist" / "04_hierarchy_stages.json"
    if where == "root" and results.parent.parent.exists():
        pytest.skip("vaedyn-results/ already exists at the root: a user's own direct runs, left alone")
    monkeypatch.setenv("VAEDYN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.chdir(folder)
    before = record_state()
    try:
        papermill.execute_notebook(str(ROOT / "notebooks" / "04_hierarchy_stages.ipynb"), str(tmp_path / "out.ipynb"),
                                   kernel_name="python3", progress_bar=False,
                                   parameters={"profile": "smoke", "dataset": "fashion_mnist", "noise": "flip"})
        written = json.loads(results.read_text())
        assert (written["profile"], written["dataset"]) == ("smoke", "fashion_mnist")
        assert record_state() == before
    finally:
        if where == "root":
            shutil.rmtree(ROOT / "vaedyn-results", ignore_errors=True)


@requires_mnist
def test_bad_papermill_parameters_fail_in_the_first_cells(tmp_path):
    import papermill

    source = ROOT / "notebooks" / "03_concept_distances.ipynb"
    for parameters, fragment in (({"dataset": "svhn"}, "dataset='svhn'"), ({"p": 1.5}, "p=1.5"),
                                 ({"trials": 0}, "trials=0")):
        output = tmp_path / "bad.ipynb"
        with pytest.raises(papermill.PapermillExecutionError) as error:
            papermill.execute_notebook(str(source), str(output), parameters={"profile": "smoke", **parameters},
                                       kernel_name="python3", cwd=str(ROOT), progress_bar=False)
        assert fragment in str(error.value)
        executed = nbformat.read(str(output), as_version=4)
        failing = [i for i, c in enumerate(c for c in executed.cells if c.cell_type == "code")
                   if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        assert failing == [2]  # parameters, injected parameters, then the run-info cell


# Resolves, for every <audio> element of a page, what the browser made of its source after load(): its
# readyState (>= 1: the metadata loaded), its duration and its error code, waiting at most 15 s per element.
AUDIO_STATES = """async els => Promise.all(els.map(a => new Promise(resolve => {
  const done = () => resolve({src: (a.currentSrc || a.src).slice(0, 40), ready: a.readyState, duration: a.duration,
                              error: a.error ? a.error.code : null});
  if (a.readyState >= 1) return done();
  a.addEventListener('loadedmetadata', done, {once: true});
  a.addEventListener('error', done, {once: true});
  setTimeout(done, 15000);
  a.load();
})))"""
MUSIC_PAGE = "15_music"


def toc_files(site: Path) -> list[str]:
    """Every file the table of contents of the book at `site` lists (without suffix)."""
    import yaml

    toc = yaml.safe_load((site / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]


def playable_audio_problems(page) -> list[str]:
    """What is wrong with the <audio> elements of a loaded page: none at all, or any whose source does not
    load to playable metadata (readyState >= 1 and a finite duration > 0). [] when all play."""
    states = page.eval_on_selector_all("main audio", AUDIO_STATES)
    if not states:
        return ["the page has no <audio> element"]
    return [f"{s['src']}...: readyState {s['ready']}, duration {s['duration']}, error {s['error']}" for s in states
            if not (s["ready"] >= 1 and s["duration"] is not None and 0 < s["duration"] < float("inf"))]


@requires_mnist
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser installs it)")
def test_rendered_pages_in_a_real_browser(smoke_book):
    from playwright.sync_api import sync_playwright

    html = smoke_book / "_build" / "html"
    pages = [html / "book" / "intro.html", html / "book" / "methods.html"] + [
        html / chapter.output(Path("book")).with_suffix(".html") for chapter in book.CHAPTERS]
    # The music page, wherever the table of contents puts it, must be rendered and play its sounds.
    music_pages = [html / f"{name}.html" for name in toc_files(smoke_book) if Path(name).name == MUSIC_PAGE]
    assert set(music_pages) <= set(pages), f"the TOC lists {music_pages}, which the build does not render"
    screenshot = ROOT / "_build" / "screenshots" / "03_concept_distances.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(smoke_book / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=flags,
            viewport={"width": 1400, "height": 900})
        # Offline, as a reader without network would see it: any request that leaves the disk fails.
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else route.abort())
        page = context.new_page()
        for target in pages:
            assert target.exists(), f"{target} was not rendered"
            response = page.goto(target.as_uri(), wait_until="load")
            assert response is None or response.ok
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])")
            broken = [src for src, ok in images if not ok]
            assert not broken, f"{target.name}: images that did not decode: {broken}"
            text = page.inner_text("main")
            assert "{glue" not in text, f"{target.name}: an unresolved glue role"
            pasted = page.locator(".pasted-text").count()
            if target.stem in {c.notebook for c in book.CHAPTERS}:
                assert "Run — profile" in text and "Wall time" in text, f"{target.name}: no run header"
                assert page.locator("img").count() > 0 or target.stem.startswith("9"), f"{target.name}: no figure"
                assert pasted > 0, f"{target.name}: no glued number in the text"
                # The plumbing stays collapsed: no code cell's input is open on a rendered page.
                assert page.locator("main .cell_input:visible").count() == 0, f"{target.name}: code shown open"
            if target.stem == "90_claims":
                headings = [h.strip() for h in page.eval_on_selector_all("main h2", "els => els.map(e => e.innerText)")
                            if h.strip() != "Contents"]   # the page's own table of contents, in the margin
                assert headings and headings[0].startswith("Summary"), f"the claims page opens with {headings[:1]}"
                clipped = page.eval_on_selector_all(
                    "main table", "els => els.filter(t => t.parentElement.scrollWidth > t.parentElement.clientWidth + 2)"
                                  ".map(t => t.innerText.slice(0, 60))")
                assert not clipped, f"claims tables wider than the page at 1400 px: {clipped}"
            if target.stem == "01_training":
                dataset = "fashion_mnist" if "fashion_mnist" in target.parts else "mnist"
                elbo = next(r for r in book.load_results(smoke_book / "book" / "results")
                            if r["notebook"] == "01_training" and r["dataset"] == dataset)["values"]["test_negative_elbo"]
                assert f"{elbo:.2f}" in text, "the glued test ELBO is not on the training page"
            if target.stem == "methods":   # MathJax is served by the site itself and typesets the equations
                page.wait_for_selector("mjx-container", timeout=15_000)
                assert page.locator("mjx-container").count() >= 5, "methods.html: equations not typeset"
            if target in music_pages:
                problems = playable_audio_problems(page)
                assert not problems, f"{target.name}: sounds that do not play: {problems}"
            if target.stem == "03_concept_distances" and "fashion" not in str(target):
                page.screenshot(path=str(screenshot), full_page=False)
        context.close()
    assert screenshot.stat().st_size > 10_000


def test_commit_stamp_ignores_the_record_but_not_the_code(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.ipynb").write_text("old")
    (tmp_path / "code.py").write_text("x = 1")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = book.git_commit(tmp_path)
    assert clean != "unknown" and not clean.endswith("-dirty")
    (tmp_path / "book" / "page.ipynb").write_text("rewritten by a build")
    assert book.git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2")
    assert book.git_commit(tmp_path) == clean + "-dirty"


def test_the_profiles_table_has_one_plain_row_per_profile():
    from vaedyn.book.record import profile_rows
    from vaedyn.config import PROFILES

    rows = profile_rows()
    assert [r["profile"] for r in rows] == list(PROFILES)
    assert all(isinstance(v, (str, int)) for r in rows for v in r.values())
    long = next(r for r in rows if r["profile"] == "long")
    assert long["seed spread"] == "seeds 0, 1, 2, after 100 epochs" and "compiled" in long["main model"]
    quick = next(r for r in rows if r["profile"] == "quick")
    assert quick["classifier"] == "1 epoch on 40\u2009000 images" and quick["main model"] == "9 epochs on all images"
    assert long["classifier"] == "12 epochs on all images"


def test_the_wall_time_table_gives_each_pages_model_epochs(tmp_path):
    from vaedyn.book.record import models_text

    def model(kind, epochs):
        return {"kind": kind, "epochs": epochs}

    assert models_text([model("vae", 1500), model("classifier", 12)]) == "VAE 1500 epochs; CNN 12 epochs"
    assert models_text([model("vae", 100)] * 24 + [model("vae", 9)]) == "VAE 9, 24 \u00d7 100 epochs"
    assert models_text([model("classifier", 1)]) == "CNN 1 epoch"
    assert models_text([]) == "none" and models_text(None) == "not recorded"

    chapter = book.CHAPTERS[1]                            # 02_trajectories, MNIST
    page = chapter.output(tmp_path)
    page.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"profile": "long", "dataset": "mnist"}, "duration": 60.0}
    nbformat.write(nb, str(page))
    assert book.record_summary(tmp_path)[0]["models"] == "not recorded"
    results = tmp_path / "results" / chapter.dataset / f"{chapter.notebook}.json"
    results.parent.mkdir(parents=True)
    results.write_text(json.dumps({"models": [model("vae", 1500)]}))
    assert book.record_summary(tmp_path)[0] | {"started": ""} == {
        "page": "02_trajectories.ipynb", "profile": "long", "dataset": "mnist", "models": "VAE 1500 epochs",
        "device": None, "started": "", "seconds": 60.0}


def test_a_workers_output_reaches_the_terminal_prefixed_and_its_bars_thinned():
    import io

    from vaedyn.book.runner import relay_lines

    # tqdm redraws with a carriage return before each update and ends with a newline
    worker = io.BufferedReader(io.BytesIO(b"[1/2] 03 ...\n\rVAE  10%\rVAE  20%\rVAE 100%\n    12 s\nlast"))
    out = io.StringIO()
    relay_lines(worker, "lane", every=3600, out=out)
    assert out.getvalue().splitlines() == ["[lane] [1/2] 03 ...", "[lane] VAE  10%", "[lane] VAE 100%",
                                           "[lane]     12 s", "[lane] last"]
