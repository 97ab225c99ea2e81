"""The book runner: executes the chapters with papermill into the record folder (one page after the
other, or in parallel worker processes), stamps each page's wall time, relays the pages' progress
bars to the terminal and estimates the time left."""
from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..config import ConfigError, get_profile, resolve_device
from ..files import project_path
from ..progress import PROGRESS_ENV
from .chapters import CHAPTERS, READER_PAGES, Chapter, lanes, select_runs
from .page import RUN_INFO_TAG, book_results_dir
from .record import previous_seconds, record_spread_time, spread_results_dir


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


@functools.cache
def ipc_kernel_manager():
    """jupyter_client's kernel manager on IPC sockets in a private folder (made once per process). Over
    TCP without CurveZMQ keys, ipykernel warns about unencrypted traffic on every page; a build needs no
    network port."""
    from jupyter_client.manager import AsyncKernelManager

    sockets = tempfile.TemporaryDirectory(prefix="vaedyn-kernels-")

    class IPCKernelManager(AsyncKernelManager):
        _sockets = sockets      # lives as long as the class, i.e. the process

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(sockets.name, "kernel")

    return IPCKernelManager


@contextlib.contextmanager
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
        with relayed_progress() if progress else contextlib.nullcontext():
            papermill.execute_notebook(str(source), str(partial), parameters=parameters, kernel_name=kernel,
                                       cwd=str(cwd), progress_bar=False, kernel_manager_class=ipc_kernel_manager())
        seconds = stamp_wall_time(partial)
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
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


def check_build(profile, only: list[str] | None, notebooks_dir: str | Path, cwd: str | Path = ".") -> list[Chapter]:
    """The runs a build of `profile` would execute (`select_runs`), after checking that every source notebook
    is in `notebooks_dir` (relative to `cwd`): ConfigError naming the first missing one, before any page runs."""
    chosen = select_runs(profile, only)
    folder = Path(cwd) / notebooks_dir
    missing = sorted({c.notebook for c in CHAPTERS if not (folder / f"{c.notebook}.ipynb").exists()})
    if missing:
        raise ConfigError(f"{folder / missing[0]}.ipynb is missing (looked in {folder.absolute()}); give the "
                          "folder of the source notebooks with --notebooks")
    return chosen


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
    results_dir = Path(results_dir) if results_dir is not None else book_results_dir(book_dir)
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else project_path("notebooks")
    if notebooks_dir.is_absolute() and notebooks_dir.is_relative_to(Path(cwd).resolve()):
        notebooks_dir = notebooks_dir.relative_to(Path(cwd).resolve())   # the pages record no machine's paths
    chosen = check_build(spec, only, notebooks_dir, cwd)
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


def relay_lines(stream, label: str, every: float = 30.0, out=None) -> None:
    """Copy a worker's output to `out` (stdout) line by line, each prefixed with its lane. A progress
    bar redraws its line with carriage returns; of those updates one per `every` seconds is shown as a
    line of its own, so two lanes' bars do not overwrite each other."""
    out = out or sys.stdout
    pending, shown = b"", -math.inf
    for chunk in iter(lambda: stream.read1(4096), b""):
        pending += chunk
        *segments, pending = re.split(rb"(?<=[\r\n])", pending)
        for segment in segments:
            text = segment.decode(errors="replace").strip("\r\n")
            if not text.strip():
                continue
            if segment.endswith(b"\r"):
                if time.monotonic() - shown < every:
                    continue
                shown = time.monotonic()
            out.write(f"[{label}] {text}\n")
            out.flush()
    if pending.strip():
        out.write(f"[{label}] {pending.decode(errors='replace').strip()}\n")
        out.flush()


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
        with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as worker:
            relay_lines(worker.stdout, label)
        return worker.returncode

    failed = []
    for number, stage in enumerate(lanes(chosen, previous_seconds(chosen, book_dir, results_dir, profile)), 1):
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
