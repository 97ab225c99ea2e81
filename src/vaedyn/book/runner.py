"""The book runner: executes the chapters with papermill into the record folder, stamps each
page's wall time and summarises the executed record for the reproducibility page."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, get_profile, resolve_device
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
    Chapter("01_training", "fashion_mnist"), Chapter("02_trajectories", "fashion_mnist"),
    Chapter("03_concept_distances", "fashion_mnist"), Chapter("04_hierarchy_stages", "fashion_mnist"),
    Chapter("05_classifier_steps", "fashion_mnist"), Chapter("06_latent_geometry", "fashion_mnist"),
    Chapter("07_latent_dimension", "fashion_mnist"), Chapter("08_generalization", "fashion_mnist"),
    Chapter("12_training_budget"), Chapter("12_training_budget", "fashion_mnist"),
    Chapter("09_training_dynamics"), Chapter("10_latent_representations"), Chapter("11_markov_chains"),
    Chapter("90_claims"), Chapter("91_reproducibility"), Chapter("92_reproduction_report"),
)
READER_PAGES = ("90_claims", "91_reproducibility", "92_reproduction_report")   # take book_dir, not a dataset


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
