"""What every chapter notebook shares: parameter checks, the run header, the results file,
and the runner that executes a notebook with papermill and stamps its wall time.

A notebook starts with `run = book.start(...)` right after its `parameters` cell: bad
parameters fail there with one message, and the header (profile, dataset, device, commit)
is shown at the top of the page. `run.save_results({...})` writes the chapter's measured
quantities to `<results_dir>/<dataset>/<notebook>.json` for the claims page.
"""
from __future__ import annotations

import datetime as _dt
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import NOISE_MODES, ConfigError, Profile, _check_choice, check_probability, get_profile, resolve_device
from .data import DATASETS
from .files import atomic_write_json

RUN_INFO_TAG = "run-info"


def git_commit(cwd: str | Path | None = None, record_dir: str = "book") -> str:
    """Short hash of HEAD, with '-dirty' when tracked files outside the record folder have
    uncommitted changes. The record (executed pages, results files) is what a build rewrites,
    so its own changes say nothing about the code that produced it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                f":(exclude,top){record_dir}"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def check_trials(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} is not allowed; it must be an integer >= 1")
    return value


@dataclass
class Run:
    """The resolved parameters of one notebook run."""

    notebook: str
    profile: Profile
    dataset: str
    device: torch.device
    seed: int
    results_dir: Path
    commit: str
    started: float = field(default_factory=time.time)

    def header_markdown(self) -> str:
        stamp = _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        device = self.device.type if self.device.type == "cpu" else torch.cuda.get_device_name(self.device)
        return (f"**Run** — profile `{self.profile.name}` · dataset `{self.dataset}` · device `{device}` · "
                f"seed {self.seed} · commit `{self.commit}` · started {stamp}")

    def results_path(self) -> Path:
        return self.results_dir / self.dataset / f"{self.notebook}.json"

    def save_results(self, values: dict) -> Path:
        """Write the chapter's measured quantities (JSON-serialisable) with the run's identity."""
        path = self.results_path()
        atomic_write_json({"notebook": self.notebook, "profile": self.profile.name, "dataset": self.dataset,
                           "device": self.device.type, "seed": self.seed, "commit": self.commit,
                           "values": _plain(values)}, path)
        return path


def _plain(value):
    """Tensors and numpy scalars to plain Python, so json can write them."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def glue(name: str, value, display: bool = False):
    """myst-nb's glue with numpy scalars and 0-d tensors turned into Python numbers first.

    Under numpy 2 a numpy float's text form is 'np.float64(0.5)', which a formatted
    reference such as {glue:text}`name:.1f` cannot parse; a Python float prints as '0.5'.
    """
    from myst_nb import glue as _myst_glue  # imported late: only notebooks need myst-nb

    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    return _myst_glue(name, value, display=display)


def start(notebook: str, profile: str = "quick", dataset: str = "mnist", device: str = "auto", seed: int = 0,
          results_dir: str | Path = "book/results", datasets: tuple[str, ...] = DATASETS,
          p_values: dict | None = None, trials: dict | None = None, noise: str | None = None,
          show: bool = True) -> Run:
    """Validate a notebook's parameters (all of them, before any work) and show the run header.

    `datasets` narrows the allowed datasets for chapters that need a particular one;
    `p_values` maps parameter names to noise fractions or lists of them, `trials` maps names
    to trial counts, `noise` is the noise reading.
    """
    _check_choice("dataset", dataset, datasets)
    resolved_profile = get_profile(profile)
    resolved_device = resolve_device(device)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed={seed!r} is not allowed; it must be an integer")
    for name, value in (p_values or {}).items():
        for p in (value if isinstance(value, (list, tuple)) else [value]):
            check_probability(name, p)
    for name, value in (trials or {}).items():
        if value is not None:
            check_trials(name, value)
    if noise is not None:
        _check_choice("noise", noise, NOISE_MODES)
    run = Run(notebook=notebook, profile=resolved_profile, dataset=dataset, device=resolved_device, seed=seed,
              results_dir=Path(results_dir), commit=git_commit())
    if show:
        from IPython.display import Markdown, display

        display(Markdown(run.header_markdown()))
    return run


def stamp_wall_time(path: str | Path) -> float:
    """Add the run's wall time (papermill's record) to the output of the cell tagged 'run-info'.

    Only outputs change, so the executed code cells still match their source. Returns seconds.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
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


def execute(source: str | Path, output: str | Path, parameters: dict, kernel: str = "python3",
            cwd: str | Path = ".") -> float:
    """Run one notebook with papermill into `output` (atomically) and stamp its wall time; returns seconds."""
    import papermill

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.running.ipynb")
    try:
        papermill.execute_notebook(str(source), str(partial), parameters=parameters, kernel_name=kernel,
                                   cwd=str(cwd), progress_bar=False)
        seconds = stamp_wall_time(partial)
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return seconds


def load_results(results_dir: str | Path) -> list[dict]:
    """Every results file under `results_dir`, in path order."""
    return [json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*/*.json"))]


@dataclass(frozen=True)
class Chapter:
    """One executed page: a source notebook run for one dataset."""

    notebook: str
    dataset: str = "mnist"

    def output(self, book_dir: Path) -> Path:
        folder = book_dir if self.dataset == "mnist" else book_dir / self.dataset
        return folder / f"{self.notebook}.ipynb"


# In execution order: 01 trains the models the others load; the claims and reproducibility
# pages read what the chapters before them wrote.
CHAPTERS = (
    Chapter("01_training"), Chapter("02_trajectories"), Chapter("03_concept_distances"),
    Chapter("04_hierarchy_stages"), Chapter("05_classifier_steps"), Chapter("06_latent_geometry"),
    Chapter("07_latent_dimension"), Chapter("08_generalization"),
    Chapter("03_concept_distances", "fashion_mnist"), Chapter("04_hierarchy_stages", "fashion_mnist"),
    Chapter("07_latent_dimension", "fashion_mnist"), Chapter("08_generalization", "fashion_mnist"),
    Chapter("12_training_budget"), Chapter("12_training_budget", "fashion_mnist"),
    Chapter("09_training_dynamics"), Chapter("10_latent_representations"), Chapter("11_markov_chains"),
    Chapter("90_claims"), Chapter("91_reproducibility"),
)
READER_PAGES = ("90_claims", "91_reproducibility")   # take book_dir, not a dataset


def build(profile: str = "quick", device: str = "auto", book_dir: str | Path = "book",
          results_dir: str | Path | None = None, notebooks_dir: str | Path = "notebooks",
          only: list[str] | None = None, seed: int = 0, cwd: str | Path = ".") -> dict[str, float]:
    """Execute the chapters (all, or those named in `only`) into `book_dir`; returns seconds per page.

    Each page is written atomically, so a chapter can be rerun alone (e.g. one per GPU job)
    and an interrupted build leaves the previous record of that page in place.
    """
    get_profile(profile)
    resolve_device(device)
    book_dir = Path(book_dir)
    results_dir = Path(results_dir) if results_dir is not None else book_dir / "results"
    # A bare name selects every dataset's run of that notebook; DATASET/NAME selects one.
    known = {c.notebook for c in CHAPTERS} | {f"{c.dataset}/{c.notebook}" for c in CHAPTERS if c.dataset != "mnist"}
    for name in only or []:
        if name not in known:
            raise ConfigError(f"only={name!r} is not a chapter; choose from {', '.join(sorted(known))}")
    chosen = [c for c in CHAPTERS if not only or c.notebook in only or f"{c.dataset}/{c.notebook}" in only]
    timings = {}
    for chapter in chosen:
        output = chapter.output(book_dir)
        parameters = {"profile": profile, "device": device, "seed": seed, "results_dir": str(results_dir)}
        if chapter.notebook in READER_PAGES:
            parameters["book_dir"] = str(book_dir)
        else:
            parameters["dataset"] = chapter.dataset
        print(f"[{len(timings) + 1}/{len(chosen)}] {output} ...", flush=True)
        timings[str(output)] = execute(Path(notebooks_dir) / f"{chapter.notebook}.ipynb", output, parameters, cwd=cwd)
        print(f"    {timings[str(output)]:.0f} s", flush=True)
    total = sum(timings.values())
    print("\nwall time per page:")
    for page, seconds in timings.items():
        print(f"  {seconds:7.1f} s  {page}")
    print(f"  {total:7.1f} s  total ({total / 60:.1f} min, profile {profile})")
    return timings


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
