"""What an executed record holds and how the pages read it: the results files (the record's and the
seed spread's), the spread's run times, each page's papermill timing, and the profiles as a table."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..data import DATASET_TITLES
from ..files import atomic_write_json
from .chapters import CHAPTERS, SPREAD_NOTEBOOKS, Chapter, spread_runs_needed
from .page import book_results_dir, count_text, results_file


def load_results(results_dir: str | Path) -> list[dict]:
    """Every results file under `results_dir`, in path order."""
    return [json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*/*.json"))]


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


def papermill_record(path: Path) -> dict:
    """What papermill stored in an executed page's metadata: parameters, start time, duration."""
    import nbformat

    return nbformat.read(str(path), as_version=4).metadata.get("papermill", {})


def previous_seconds(runs: list[Chapter], book_dir: Path, results_dir: Path, profile: str) -> dict[str, float]:
    """How long each run took the last time it ran under `profile` in this record (pages: papermill's
    duration; spread runs: `spread_wall_time`), by `Chapter.name()`: what the time-left estimate uses."""
    spread = spread_wall_time(results_dir, profile)
    seconds = {}
    for chapter in runs:
        if chapter.spread_seed is not None:
            if chapter.name() in spread:
                seconds[chapter.name()] = spread[chapter.name()]
            continue
        path = chapter.output(book_dir)
        meta = papermill_record(path) if path.exists() else {}
        if meta.get("parameters", {}).get("profile") == profile and meta.get("duration"):
            seconds[chapter.name()] = float(meta["duration"])
    return seconds


def load_spread(results_dir: str | Path, profile) -> dict[int, list[dict]]:
    """The results files of every seed of `profile`'s spread that has any: {seed: results}, of the spread's
    chapters and datasets only. Seed 0 at the profile's own epochs reads the record's results (see
    `spread_runs_needed`), where the other pages' files, the readers' own from an earlier build among them,
    must not count as the spread's; nor may a page executed under another profile (a record part way from
    one budget to another): a spread compares seeds of one budget."""
    rerun = set(spread_runs_needed(profile))

    def of_the_spread(results: list[dict]) -> list[dict]:
        return [r for r in results
                if r.get("notebook") in SPREAD_NOTEBOOKS and r.get("dataset") in profile.spread_datasets
                and r.get("profile") == profile.name]

    spread = {seed: of_the_spread(load_results(spread_results_dir(results_dir, seed) if seed in rerun else results_dir))
              for seed in profile.spread_seeds}
    return {seed: results for seed, results in spread.items() if results}


def spread_description(spread: dict[int, list[dict]], profile) -> dict[str, str]:
    """How the claims page and the report name a seed spread: the epochs its models trained
    (as their results files record them) and `coverage`, the seeds measured for each dataset, which a
    spread part way gives per dataset (MNIST's three seeds before Fashion-MNIST's)."""
    epochs = sorted({r["epochs"] for results in spread.values() for r in results if "epochs" in r})
    measured = {d: seeds for d in profile.spread_datasets
                if (seeds := sorted(s for s, results in spread.items() if any(r.get("dataset") == d for r in results)))}

    def seed_list(seeds: list[int]) -> str:
        return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    if not measured:
        coverage = "no seed yet"
    elif len({tuple(seeds) for seeds in measured.values()}) == 1:   # one list of seeds for every dataset
        coverage = f"{seed_list(next(iter(measured.values())))} for {' and '.join(DATASET_TITLES[d] for d in measured)}"
    else:
        coverage = " and ".join(f"{seed_list(seeds)} for {DATASET_TITLES[d]}" for d, seeds in measured.items())
    return {"epochs": " / ".join(map(str, epochs)) or "-", "coverage": coverage}


def seed_status_text(spread: dict[int, list[dict]], profile) -> str:
    """What a reader page says when the spread cannot compare seeds yet (fewer than two measured); "" otherwise."""
    planned = ", ".join(map(str, profile.spread_seeds))
    if len(spread) >= 2:
        return ""
    if not spread:
        return f"No seed of the {profile.name} spread (seeds {planned}) has been measured yet."
    return (f"So far only seed {next(iter(spread))} of the {profile.name} spread (seeds {planned}) has been "
            "measured, so no claim is compared across seeds yet.")


def profile_rows() -> list[dict]:
    """One row of plain text per profile, for the reproducibility page."""
    from ..config import PROFILES

    def grid(g) -> str:
        if g is None:
            return "-"
        return (f"N_z {', '.join(map(str, g.nz))}; {len(g.seeds)} seed(s) x {len(g.schedules)} schedule(s) x "
                f"batch {', '.join(map(str, g.batch_sizes))}; {epochs(g.epochs)} on {images(g.train_limit)} images")

    def images(limit: int | None) -> str:
        return "all" if limit is None else count_text(limit)

    def epochs(n: int) -> str:
        return f"{n} epoch{'' if n == 1 else 's'}"

    rows = []
    for p in PROFILES.values():
        step = round(p.p_grid[1] - p.p_grid[0], 3) if len(p.p_grid) > 1 else "-"
        rows.append({
            "profile": p.name,
            "main model": f"{epochs(p.epochs)} on {images(p.train_limit)} images" + (", compiled" if p.compile else ""),
            "classifier": f"{epochs(p.classifier_epochs)} on {images(p.classifier_config().train_limit)} images",
            "trials (Fig. 3 / 4 / 5)": f"{p.trials_distance} / {p.trials_stages} / {p.trials_classifier}",
            "steps T": p.steps,
            "p grid": f"{len(p.p_grid)} values, {p.p_grid[0]} to {p.p_grid[-1]} (step {step})",
            "seed spread": f"seeds {', '.join(map(str, p.spread_seeds))}"
                           + ("" if p.spread_epochs is None else f", after {p.spread_epochs} epochs"),
            "spread covers": " and ".join(DATASET_TITLES[d] for d in p.spread_datasets),
            "Fig. 8 grid": grid(p.fig8), "Fig. 9 grid": grid(p.fig9),
            "use": p.description,
        })
    return rows


def models_text(models: list[dict] | None) -> str:
    """A results file's `models` as one line, per kind the epochs each model trained: "VAE 1500 epochs; CNN
    12 epochs", "VAE 24 x 100 epochs". "not recorded" for a file written before results files listed them."""
    if models is None:
        return "not recorded"
    parts = []
    for kind, name in (("vae", "VAE"), ("classifier", "CNN")):
        counts = Counter(m["epochs"] for m in models if m["kind"] == kind)
        if counts:
            budgets = (f"{n} \u00d7 {epochs}" if n > 1 else str(epochs) for epochs, n in sorted(counts.items()))
            parts.append(f"{name} {', '.join(budgets)} epoch{'' if counts.keys() == {1} else 's'}")
    return "; ".join(parts) or "none"


def record_summary(book_dir: str | Path) -> list[dict]:
    """One row per executed page under `book_dir`: its parameters, the epochs of the models behind it
    (its results file's `models`) and papermill's timing."""
    rows = []
    for chapter in CHAPTERS:
        path = chapter.output(Path(book_dir))
        if not path.exists():
            continue
        meta = papermill_record(path)
        parameters = meta.get("parameters", {})
        results = results_file(book_results_dir(book_dir), chapter.dataset, chapter.notebook)
        models = json.loads(results.read_text()).get("models") if results.exists() else None
        rows.append({"page": str(path.relative_to(book_dir)), "profile": parameters.get("profile"),
                     "dataset": parameters.get("dataset", "-"), "models": models_text(models),
                     "device": parameters.get("device"),
                     "started": (meta.get("start_time") or "")[:16].replace("T", " "),
                     "seconds": float(meta.get("duration") or 0.0)})
    return rows
