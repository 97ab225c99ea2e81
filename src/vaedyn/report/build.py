"""Executing the report notebook for one model and publishing it: papermill runs the notebook shipped
in this package in a temporary folder, the executed notebook is rendered to one HTML page, and only
then do report.ipynb, report.html and report.json reach the output folder, so a failure leaves it as
it was."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ..files import atomic_write_text

NOTEBOOK = Path(__file__).with_name("report.ipynb")
OUTPUTS = ("report.ipynb", "report.html", "report.json")


class ReportFailedError(RuntimeError):
    """A cell of the report notebook raised; the message names the cell and the error."""


@contextlib.contextmanager
def kernel_path():
    """The kernel imports what this process imports: the vaedyn that runs this code (installed or not)
    and modules beside the working directory (`--model MODULE:FACTORY`), whatever the kernel's own working
    folder. Both go first on PYTHONPATH, which a kernel inherits, for as long as the block runs."""
    previous = os.environ.get("PYTHONPATH")
    folders = [str(Path(__file__).resolve().parents[2]), os.getcwd()]
    os.environ["PYTHONPATH"] = os.pathsep.join([*folders, *([previous] if previous else [])])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def publish(work: Path, out: Path, names: tuple[str, ...] = OUTPUTS) -> list[Path]:
    """Move the files `names` from `work` into the folder `out`: a new folder appears whole (one rename),
    an existing one gets each file by an atomic replace. They are staged beside `out` first, on its
    file system, so that the renames are atomic."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-"))
    try:
        for name in names:
            shutil.copyfile(work / name, staging / name)
        if out.exists():
            for name in names:
                os.replace(staging / name, out / name)
        else:
            umask = os.umask(0)
            os.umask(umask)
            staging.chmod(0o777 & ~umask)   # mkdtemp makes the folder private; give it the usual permissions
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in names]


def build_report(out: str | Path, parameters: dict, progress: bool = True, say=print) -> list[Path]:
    """Execute the report notebook with `parameters` (those of its parameters cell), render it to HTML and
    publish report.ipynb, report.html and report.json into `out`; returns their paths. `say` reports each
    stage; with `progress` the notebook's progress bars show on this process's stderr."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    from ..book.runner import execute
    from nbconvert import HTMLExporter

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="vaedyn-report-") as folder, kernel_path():
        work = Path(folder)
        say(f"executing the report notebook (profile {parameters.get('profile')}, dataset {parameters.get('dataset')})")
        try:
            seconds = execute(NOTEBOOK, work / "report.ipynb", {**parameters, "progress": progress}, cwd=work,
                              progress=progress)
        except PapermillExecutionError as error:
            raise ReportFailedError(f"the report notebook failed in its cell {error.exec_count}: {error.ename}: "
                                    f"{error.evalue}; nothing was written to {out}") from None
        say(f"executed in {seconds:.0f} s; rendering report.html")
        title = f"vaedyn report: {parameters.get('model')}"
        # One self-contained page (figures embedded, styles inline) with the code hidden: the reader
        # wants the findings, and the notebook beside it keeps the code.
        exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
        page, _ = exporter.from_notebook_node(nbformat.read(str(work / "report.ipynb"), as_version=4),
                                              resources={"metadata": {"name": title}})
        atomic_write_text(page, work / "report.html")
        return publish(work, out)
