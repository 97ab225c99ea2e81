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


def git_commit(cwd: str | Path | None = None) -> str:
    """Short hash of HEAD, with '-dirty' when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
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
