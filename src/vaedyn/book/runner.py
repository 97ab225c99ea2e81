"""The book runner: executes the chapters with papermill into the record folder, stamps each
page's wall time and summarises the executed record for the reproducibility page."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, get_profile, resolve_device
from ..files import atomic_write_json, project_path
from ..progress import PROGRESS_ENV
from .page import RUN_INFO_TAG


def stamp_wall_time(path: str | Path) -> float:
    """Add the run's wall time (papermill's record) to the output of the cell tagged 'run-info'.

    Only outputs change, so the executed code cells still match their source; papermill's
    injected-parameters cell also gets the 'hide-input' tag every source code cell carries, so the
    rendered page shows it collapsed. Returns seconds.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    seconds = float(nb.metadata.get("papermill", {}).get("duration") or 0.0)
    text = f"**Wall time** of this run: {seconds / 60:.1f} min ({seconds:.0f} s, executed with papermill)"
    for cell in nb.cells:
        if RUN_INFO_TAG in cell.get("metadata", {}).get("tags", []):
            cell.outputs = [o for o in cell.outputs if o.get("metadata", {}).get("vaedyn") != "wall-time"]
            cell.outputs.append(nbformat.v4.new_output(
                "display_data", data={"text/markdown": text, "text/plain": text}, metadata={"vaedyn": "wall-time"}))
            break
    else:
        raise ValueError(f"{path} has no cell tagged {RUN_INFO_TAG!r} to stamp")
    tmp = Path(path).with_suffix(".stamp.tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(path)
    return seconds


_SOCKETS: tempfile.TemporaryDirectory | None = None


def ipc_kernel_manager():
    """jupyter_client's kernel manager on IPC sockets in a private folder. Over TCP without CurveZMQ
    keys, ipykernel warns about unencrypted traffic on every page; a build needs no network port."""
    global _SOCKETS
    from jupyter_client.manager import AsyncKernelManager

    if _SOCKETS is None:
        _SOCKETS = tempfile.TemporaryDirectory(prefix="vaedyn-kernels-")

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(_SOCKETS.name, "kernel")

    return IPCKernelManager


@contextmanager
def relayed_progress(stream=None, poll: float = 0.5):
    """Progress bars of a page's kernel on this terminal, not in the page: the kernel inherits
    $VAEDYN_PROGRESS_FILE and its bars go to that file (`vaedyn.progress`); a thread copies what
    arrives to `stream` (default: stderr) until the block ends."""
    stream = stream or sys.stderr
    with tempfile.TemporaryDirectory(prefix="vaedyn-progress-") as folder:
        path = Path(folder) / "progress.log"
        path.touch()
        previous = os.environ.get(PROGRESS_ENV)
        os.environ[PROGRESS_ENV] = str(path)
        done = threading.Event()

        def copy():
            with open(path, "r", errors="replace") as source:
                while True:
                    chunk = source.read()
                    if chunk:
                        stream.write(chunk)
                        stream.flush()
                    elif done.is_set():
                        return
                    else:
                        time.sleep(poll)

        thread = threading.Thread(target=copy, daemon=True)
        thread.start()
        try:
            yield path
        finally:
            done.set()
            thread.join(timeout=5)
            if previous is None:
                os.environ.pop(PROGRESS_ENV, None)
            else:
                os.environ[PROGRESS_ENV] = previous


def execute(source: str | Path, output: str | Path, parameters: dict, kernel: str = "python3",
            cwd: str | Path = ".", progress: bool = True) -> float:
    """Run one notebook with papermill into `output` (atomically) and stamp its wall time; returns seconds.
    With `progress`, the page's progress bars (training, sweeps) show on this process's stderr."""
    import papermill

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.running.ipynb")
    try:
        with relayed_progress() if progress else _nothing():
            papermill.execute_notebook(str(source), str(partial), parameters=parameters, kernel_name=kernel,
                                       cwd=str(cwd), progress_bar=False, kernel_manager_class=ipc_kernel_manager())
        seconds = stamp_wall_time(partial)
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return seconds


@contextmanager
def _nothing():
    yield None


def load_results(results_dir: str | Path) -> list[dict]:
    """Every results file under `results_dir`, in path order."""
    return [json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*/*.json"))]


@dataclass(frozen=True)
class Chapter:
    """One executed page: a source notebook run for one dataset. A run of the seed spread
    (`spread_seed` set) is not a page of the book: only its results file is kept."""

    notebook: str
    dataset: str = "mnist"
    spread_seed: int | None = None

    def output(self, book_dir: Path) -> Path:
        if self.spread_seed is not None:
            return Path(book_dir).parent / "_build" / "spread" / f"seed-{self.spread_seed}" / self.dataset / \
                f"{self.notebook}.ipynb"
        folder = book_dir if self.dataset == "mnist" else book_dir / self.dataset
        return folder / f"{self.notebook}.ipynb"

    def name(self) -> str:
        base = self.notebook if self.dataset == "mnist" else f"{self.dataset}/{self.notebook}"
        return base if self.spread_seed is None else f"spread/seed-{self.spread_seed}/{self.dataset}/{self.notebook}"

    def selectors(self) -> set[str]:
        """The names `build(only=...)` selects this run by. A page: its notebook's name (every dataset's
        page) or DATASET/NAME. A run of the seed spread: 'spread' (all of them), 'spread/NAME' (every
        seed's and dataset's run of one notebook) or its own `name()`."""
        if self.spread_seed is None:
            return {self.notebook, f"{self.dataset}/{self.notebook}"}
        return {"spread", f"spread/{self.notebook}", self.name()}


# In execution order: 01 trains the models the others load; the claims and reproducibility
# pages read what the chapters before them wrote.
CHAPTERS = (
    Chapter("01_training"), Chapter("02_trajectories"), Chapter("03_concept_distances"),
    Chapter("04_hierarchy_stages"), Chapter("05_classifier_steps"), Chapter("06_latent_geometry"),
    Chapter("07_latent_dimension"), Chapter("08_generalization"),
    Chapter("01_training", "fashion_mnist"), Chapter("02_trajectories", "fashion_mnist"),
    Chapter("03_concept_distances", "fashion_mnist"), Chapter("04_hierarchy_stages", "fashion_mnist"),
    Chapter("05_classifier_steps", "fashion_mnist"), Chapter("06_latent_geometry", "fashion_mnist"),
    Chapter("07_latent_dimension", "fashion_mnist"), Chapter("08_generalization", "fashion_mnist"),
    Chapter("12_training_budget"), Chapter("12_training_budget", "fashion_mnist"),
    Chapter("09_training_dynamics"), Chapter("10_latent_representations"), Chapter("11_markov_chains"),
    Chapter("90_claims"), Chapter("91_reproducibility"), Chapter("92_reproduction_report"),
)
READER_PAGES = ("90_claims", "91_reproducibility", "92_reproduction_report")   # take book_dir, not a dataset
# The chapters whose claims are about the main model: the seed spread runs them once per seed.
SPREAD_NOTEBOOKS = ("02_trajectories", "03_concept_distances", "04_hierarchy_stages", "05_classifier_steps",
                    "06_latent_geometry")


def spread_runs_needed(profile) -> list[int]:
    """The seeds of `profile`'s spread that need runs of their own. Seed 0 of a spread at the profile's
    own epochs is the record itself; a spread stopped early (`spread_epochs`) reruns seed 0 as well."""
    return [s for s in profile.spread_seeds if s != 0 or profile.spread_epochs is not None]


def chapters_for(profile) -> list[Chapter]:
    """Every run of a build under `profile`, in execution order: the pages, with the seed spread's
    runs before the reader pages that count them."""
    spread = [Chapter(notebook, dataset, seed) for seed in spread_runs_needed(profile)
              for dataset in profile.spread_datasets for notebook in SPREAD_NOTEBOOKS]
    pages = [c for c in CHAPTERS if c.notebook not in READER_PAGES]
    return pages + spread + [c for c in CHAPTERS if c.notebook in READER_PAGES]


def spread_results_dir(results_dir: str | Path, seed: int) -> Path:
    return Path(results_dir) / "spread" / f"seed-{seed}"


def record_spread_time(results_dir: str | Path, chapter: Chapter, seconds: float, profile: str) -> None:
    """Keep a spread run's wall time beside its results (its page is not kept): one file per seed, out of
    reach of `load_results`, which reads DATASET/NAME.json only."""
    path = spread_results_dir(results_dir, chapter.spread_seed) / "wall_time.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[f"{chapter.dataset}/{chapter.notebook}"] = {"seconds": round(seconds, 1), "profile": profile}
    atomic_write_json(dict(sorted(times.items())), path)


def spread_wall_time(results_dir: str | Path, profile: str | None = None) -> dict[str, float]:
    """Seconds per run of the seed spread, by run name, as the runner recorded them (all profiles' or
    one's; {} before any)."""
    times = {}
    for path in sorted((Path(results_dir) / "spread").glob("seed-*/wall_time.json")):
        for run, entry in json.loads(path.read_text()).items():
            if profile is None or entry["profile"] == profile:
                times[f"spread/{path.parent.name}/{run}"] = entry["seconds"]
    return times


def previous_seconds(runs: list[Chapter], book_dir: Path, results_dir: Path, profile: str) -> dict[str, float]:
    """How long each run took the last time it ran under `profile` in this record (pages: papermill's
    duration; spread runs: `spread_wall_time`), by `Chapter.name()`: what the time-left estimate uses."""
    import nbformat

    spread = spread_wall_time(results_dir, profile)
    seconds = {}
    for chapter in runs:
        if chapter.spread_seed is not None:
            if chapter.name() in spread:
                seconds[chapter.name()] = spread[chapter.name()]
            continue
        path = chapter.output(book_dir)
        if path.exists():
            meta = nbformat.read(str(path), as_version=4).metadata.get("papermill", {})
            if meta.get("parameters", {}).get("profile") == profile and meta.get("duration"):
                seconds[chapter.name()] = float(meta["duration"])
    return seconds


def time_left(remaining: list[Chapter], expected: dict[str, float], done: list[float]) -> str:
    """'about 12 min left': the last record's time for each remaining run, the mean of this build's runs so
    far for runs without one; 'time left unknown' before there is anything to go by."""
    known = [expected[c.name()] for c in remaining if c.name() in expected]
    unknown = len(remaining) - len(known)
    fallback = (sum(done) / len(done)) if done else (sum(expected.values()) / len(expected)) if expected else None
    if unknown and fallback is None:
        return "time left unknown (no earlier run of this profile to go by)"
    minutes = (sum(known) + unknown * (fallback or 0.0)) / 60
    return f"{len(remaining)} runs, about {minutes:.0f} min left"


def load_spread(results_dir: str | Path, profile) -> dict[int, list[dict]]:
    """The results files of every seed of `profile`'s spread that has any: {seed: results}. Seed 0 at the
    profile's own epochs reads the record's results (see `spread_runs_needed`)."""
    rerun = set(spread_runs_needed(profile))
    spread = {seed: load_results(spread_results_dir(results_dir, seed) if seed in rerun else results_dir)
              for seed in profile.spread_seeds}
    return {seed: results for seed, results in spread.items() if results}


def select_runs(profile, only: list[str] | None = None) -> list[Chapter]:
    """The runs of a build under `profile` (a Profile) that `only` names (all without it), in execution
    order; ConfigError for a name that selects nothing (see `Chapter.selectors`)."""
    runs = chapters_for(profile)
    known = set().union(*(c.selectors() for c in runs))
    for name in only or []:
        if name not in known:
            raise ConfigError(f"only={name!r} is not a chapter; choose from {', '.join(sorted(known))}")
    return [c for c in runs if not only or c.selectors() & set(only)]


def lanes(runs: list[Chapter]) -> list[list[list[Chapter]]]:
    """The runs grouped for parallel jobs: stages run one after the other, the lanes of a stage side by
    side, the runs of a lane in order. Stage 1: each dataset's training page (it trains the models and
    the classifier the rest load). Stage 2: each dataset's other pages, and each seed's spread runs.
    Stage 3: the reader pages, which read everything before them."""
    first = [[c] for c in runs if c.notebook == "01_training" and c.spread_seed is None]
    readers = [c for c in runs if c.notebook in READER_PAGES]
    middle: dict[tuple, list[Chapter]] = {}
    for c in runs:
        if [c] in first or c in readers:
            continue
        middle.setdefault((c.spread_seed is not None, c.spread_seed, c.dataset), []).append(c)
    stages = [first, sorted(middle.values(), key=len, reverse=True), [readers] if readers else []]
    return [stage for stage in stages if stage]


def build(profile: str = "quick", device: str = "auto", book_dir: str | Path = "book",
          results_dir: str | Path | None = None, notebooks_dir: str | Path | None = None,
          only: list[str] | None = None, seed: int = 0, cwd: str | Path = ".", jobs: int = 1) -> dict[str, float]:
    """Execute the chapters (all, or those named in `only`, see `Chapter.selectors`) into `book_dir`,
    the seed spread's runs included; returns seconds per run.

    Each page is written atomically, so a chapter can be rerun alone (e.g. one per GPU job)
    and an interrupted build leaves the previous record of that page in place. With `jobs` > 1 the
    runs go to that many worker processes, each with its share of the CPU threads (`lanes`).
    """
    spec = get_profile(profile)
    resolve_device(device)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"jobs={jobs!r} is not allowed; it must be an integer >= 1")
    book_dir = Path(book_dir)
    results_dir = Path(results_dir) if results_dir is not None else book_dir / "results"
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else project_path("notebooks")
    chosen = select_runs(spec, only)
    if jobs > 1:
        return _build_in_parallel(chosen, jobs, profile, device, book_dir, results_dir, notebooks_dir, seed, cwd)
    expected = previous_seconds(chosen, book_dir, results_dir, profile)
    timings = {}
    for k, chapter in enumerate(chosen):
        output = chapter.output(book_dir)
        parameters = {"profile": profile, "device": device, "seed": seed, "results_dir": str(results_dir)}
        if chapter.notebook in READER_PAGES:
            parameters["book_dir"] = str(book_dir)
        else:
            parameters["dataset"] = chapter.dataset
        if chapter.spread_seed is not None:
            parameters.update(seed=chapter.spread_seed, epochs=spec.spread_epochs,
                              results_dir=str(spread_results_dir(results_dir, chapter.spread_seed)))
        print(f"[{k + 1}/{len(chosen)}] {chapter.name()} ({profile}) -> {output}; "
              f"{time_left(chosen[k:], expected, list(timings.values()))}", flush=True)
        timings[str(output)] = execute(notebooks_dir / f"{chapter.notebook}.ipynb", output, parameters, cwd=cwd)
        print(f"    {timings[str(output)]:.0f} s", flush=True)
        if chapter.spread_seed is not None:   # its page is not kept, so its wall time is kept here
            record_spread_time(results_dir, chapter, timings[str(output)], profile)
    total = sum(timings.values())
    print("\nwall time per page:")
    for page, seconds in timings.items():
        print(f"  {seconds:7.1f} s  {page}")
    print(f"  {total:7.1f} s  total ({total / 60:.1f} min, profile {profile})")
    return timings


def _exact_name(chapter: Chapter) -> str:
    """The `only` name that selects this run and no other."""
    return chapter.name() if chapter.spread_seed is not None else f"{chapter.dataset}/{chapter.notebook}"


def _build_in_parallel(chosen, jobs, profile, device, book_dir, results_dir, notebooks_dir, seed, cwd) -> dict:
    """`build` with the runs spread over `jobs` worker processes (`vaedyn book --only ...`), stage by
    stage (`lanes`); each worker's lines reach this terminal prefixed with its lane."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    started = time.perf_counter()

    def run_lane(lane: list[Chapter]) -> int:
        label = lane[0].name() if len(lane) == 1 else f"{lane[0].name()} +{len(lane) - 1}"
        command = [sys.executable, "-m", "vaedyn", "book", "--profile", profile, "--device", str(device),
                   "--out", str(book_dir), "--results", str(results_dir), "--notebooks", str(notebooks_dir),
                   "--seed", str(seed), "--only", *[_exact_name(c) for c in lane]]
        with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, bufsize=1) as worker:
            for line in worker.stdout:
                sys.stdout.write(f"[{label}] {line}")
                sys.stdout.flush()
        return worker.returncode

    failed = []
    for number, stage in enumerate(lanes(chosen), 1):
        print(f"== stage {number}: {len(stage)} lane(s) on {min(jobs, len(stage))} job(s) of {threads} thread(s); "
              f"{time.perf_counter() - started:.0f} s so far", flush=True)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            codes = list(pool.map(run_lane, stage))
        failed += [lane[0].name() for lane, code in zip(stage, codes) if code != 0]
        if failed:
            raise RuntimeError(f"the lanes starting with {', '.join(failed)} failed; their output is above")
    seconds = previous_seconds(chosen, book_dir, results_dir, profile)
    total = time.perf_counter() - started
    print(f"\n  {total:7.1f} s  wall time of the whole build ({total / 60:.1f} min, profile {profile}, {jobs} jobs)")
    return {str(c.output(book_dir)): seconds.get(c.name(), float("nan")) for c in chosen}


def profile_rows() -> list[dict]:
    """One row of plain text per profile, for the reproducibility page."""
    from ..config import PROFILES

    def grid(g) -> str:
        if g is None:
            return "-"
        images = "all" if g.train_limit is None else f"{g.train_limit:,}"
        return (f"N_z {', '.join(map(str, g.nz))}; {len(g.seeds)} seed(s) x {len(g.schedules)} schedule(s) x "
                f"batch {', '.join(map(str, g.batch_sizes))}; {g.epochs} epochs on {images} images")

    rows = []
    for p in PROFILES.values():
        step = round(p.p_grid[1] - p.p_grid[0], 3) if len(p.p_grid) > 1 else "-"
        rows.append({
            "profile": p.name,
            "main model": f"{p.epochs} epochs on {'all' if p.train_limit is None else f'{p.train_limit:,}'} images"
                          + (", compiled" if p.compile else ""),
            "classifier": f"{p.classifier_epochs} epochs",
            "trials (Fig. 3 / 4 / 5)": f"{p.trials_distance} / {p.trials_stages} / {p.trials_classifier}",
            "steps T": p.steps,
            "p grid": f"{len(p.p_grid)} values, {p.p_grid[0]} to {p.p_grid[-1]} (step {step})",
            "seed spread": f"seeds {', '.join(map(str, p.spread_seeds))}"
                           + ("" if p.spread_epochs is None else f", after {p.spread_epochs} epochs"),
            "Fig. 8 grid": grid(p.fig8), "Fig. 9 grid": grid(p.fig9),
            "use": p.description,
        })
    return rows


def record_summary(book_dir: str | Path) -> list[dict]:
    """One row per executed page under `book_dir`: its parameters and papermill's timing."""
    import nbformat

    rows = []
    for chapter in CHAPTERS:
        path = chapter.output(Path(book_dir))
        if not path.exists():
            continue
        meta = nbformat.read(str(path), as_version=4).metadata.get("papermill", {})
        parameters = meta.get("parameters", {})
        rows.append({"page": str(path.relative_to(book_dir)), "profile": parameters.get("profile"),
                     "dataset": parameters.get("dataset", "-"), "device": parameters.get("device"),
                     "started": (meta.get("start_time") or "")[:16].replace("T", " "),
                     "seconds": float(meta.get("duration") or 0.0)})
    return rows
