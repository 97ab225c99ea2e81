"""The core findings for any model (`paper.core`) and `vaedyn report` (issue 12): a conv model taking
images runs through Figs. 3, 4, 5 and 7 and the registry's rules; every bad input of the command is
refused with one line before anything is executed or written; one smoke run writes the report."""
import json
import re
from pathlib import Path

import nbformat
import pytest
import torch
from safetensors.torch import save_file

import vaedyn
from conftest import requires_mnist, run_cli
from example_models import renamed_mlp, tiny_conv_vae
from vaedyn.cli import build_parser, report_parameters
from vaedyn.paper import core
from vaedyn.paper.registry import page_claims
from vaedyn.paper.rules import MISSING, READINGS, VERDICTS
from vaedyn.report import NOTEBOOK, publish

EXAMPLES = Path(__file__).with_name("example_models.py")
SMALL = ["--profile", "smoke", "--effort-scale", "0.5", "--p-stride", "2"]    # 10 trials, p in {0, 0.5}


@requires_mnist
def test_core_findings_of_a_conv_model_are_judged_by_the_registry():
    torch.manual_seed(0)
    effort = core.core_effort("smoke", scale=0.5, p_stride=2)
    assert (effort.trials_distance, effort.p_grid, effort.label_p_grid) == (10, (0.0, 0.5), (0.0, 0.5))
    # The CNN is an instrument here, not under test: an untrained one labels as fast as a trained one.
    findings = core.core_findings(tiny_conv_vae(), "mnist", "smoke", vaedyn.ClassifierCNN(), device="cpu",
                                  effort=effort, progress=False)
    assert findings.model.image_shape == (1, 28, 28) and findings.values["06_latent_geometry"]["nz"] == 8
    stored = json.loads(json.dumps(findings.values))          # what a results file or report.json holds
    assert json.dumps(stored) == json.dumps(findings.values) and set(stored) == set(core.CORE_PAGES)
    swap = stored["03_concept_distances"]["readings"]["swap"]
    assert len(swap["strict_fraction_concept"]) == 10 and swap["trials"] == 10
    assert stored["04_hierarchy_stages"]["readings"]["flip"]["p_grid"] == [0.0, 0.5]
    rows = core.core_claims(stored, "mnist")
    assert [r["id"] for r in rows] == [c.id for page in core.CORE_PAGES for c in page_claims(page, "mnist")]
    assert all(r[f"verdict ({reading})"] in VERDICTS for r in rows for reading in READINGS)
    active = next(r for r in rows if r["id"] == "fig7a.active_units_14")
    assert active["ours (swap)"] == f"{stored['06_latent_geometry']['active_units']} units"
    without_cnn = dict(stored)
    del without_cnn["05_classifier_steps"]
    fig5_rows = [r for r in core.core_claims(without_cnn, "mnist") if r["id"].startswith("fig5")]
    assert fig5_rows and {r[f"verdict ({reading})"] for r in fig5_rows for reading in READINGS} == {MISSING}


def test_core_findings_take_the_papers_vae_as_it_is():
    vae = vaedyn.VAE(n_features=64, nz=3, hidden=8)
    effort = core.core_effort("smoke", scale=0.5, p_stride=2)
    findings = core.core_findings(vae, "digits", "smoke", device="cpu", effort=effort, progress=False)
    assert findings.model is vae and set(findings.values) == set(core.CORE_PAGES) - {"05_classifier_steps"}
    assert core.core_claims(findings.values, "digits") == []        # no claim of the paper is about digits


@pytest.fixture
def weights(tmp_path):
    """Files of weights: the conv VAE's own (safetensors) and the renamed MLP's (a torch state dict)."""
    save_file(tiny_conv_vae().state_dict(), str(tmp_path / "conv.safetensors"))
    torch.save(renamed_mlp().state_dict(), tmp_path / "mlp.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    return tmp_path


@pytest.mark.parametrize("argv, fragment", [
    (["--model", "tests/no_such_file.py:make"], "the file tests/no_such_file.py does not exist"),
    (["--model", "no_such_module_anywhere:make"], "no module named 'no_such_module_anywhere'"),
    (["--model", f"{EXAMPLES}:no_such_factory"], "has no 'no_such_factory'"),
    (["--model", "tests/example_models.py"], "give FILE.py:FACTORY or MODULE:FACTORY"),
    (["--model", f"{EXAMPLES}:TinyConvVAE.encode"], "calling TinyConvVAE.encode() failed: TypeError"),
    (["--model", f"{EXAMPLES}:no_maps"], "NoMaps has no encode_mean and no decode_mean"),
    (["--model", f"{EXAMPLES}:renamed_mlp"], "RenamedMLP has no encode_mean and no decode_mean"),
    (["--model", f"{EXAMPLES}:renamed_mlp", "--encode-mean", "embed", "--decode-mean", "reconstruct",
      "--weights", "{weights}/conv.safetensors"], "does not fit RenamedMLP: missing down.0.bias"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--weights", "{weights}/mlp.pt"],
     "does not fit TinyConvVAE: missing decoder.0.bias"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--weights", "{weights}/junk.safetensors"],
     "cannot be read as safetensors"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--weights", "{weights}/none.pt"], "none.pt': no such file"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae"], "holds 784 values but the dataset's images have 64"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--input-shape", "1,8,8"],
     "TinyConvVAE declares input_shape=(1, 28, 28)"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--input-shape", "1,x,8"], "'1,x,8' is not allowed"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--profile", "huge"], "invalid choice: 'huge'"),
    (["--model", f"{EXAMPLES}:tiny_conv_vae", "--effort-scale", "2"], "it must be in (0, 1]"),
])
def test_bad_input_exits_with_one_line_before_anything_runs(argv, fragment, weights, capsys, tmp_path, monkeypatch):
    import vaedyn.book.runner
    import vaedyn.report

    for module, name in ((vaedyn.book.runner, "execute"), (vaedyn.report, "build_report")):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("the report was started"))
    monkeypatch.chdir(Path(__file__).parents[1])              # so that tests/... names the examples file
    out = tmp_path / "report"
    argv = [a.format(weights=weights) for a in argv]
    code, stdout, err = run_cli(["report", "--dataset", "digits", *argv, "--out", str(out)], capsys)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["conv.safetensors", "junk.safetensors",
                                                                               "mlp.pt"]


def test_the_notebook_takes_every_parameter_the_command_passes(tmp_path):
    import papermill

    args = build_parser().parse_args(["report", "--model", "tests/example_models.py:tiny_conv_vae", "--weights", "w.pt",
                                      "--input-shape", "1,28,28", "--out", str(tmp_path / "r")])
    parameters = report_parameters(args)
    assert Path(parameters["model"].rpartition(":")[0]).is_absolute() and Path(parameters["weights"]).is_absolute()
    assert parameters["input_shape"] == [1, 28, 28]
    assert {*parameters, "progress"} <= set(papermill.inspect_notebook(str(NOTEBOOK)))
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["vaedyn.report"]
    assert any(NOTEBOOK.match(pattern) for pattern in patterns)           # shipped with the package


def test_publish_moves_every_file_or_none(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in ("report.ipynb", "report.html"):
        (work / name).write_text(name)
    with pytest.raises(FileNotFoundError):
        publish(work, tmp_path / "out", ("report.ipynb", "report.html", "report.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]           # no output, no staging left behind
    (work / "report.json").write_text("{}")
    paths = publish(work, tmp_path / "out")
    assert [p.read_text() for p in paths] == ["report.ipynb", "report.html", "{}"]
    (work / "report.html").write_text("again")
    publish(work, tmp_path / "out")                                          # an existing folder: files replaced
    assert (tmp_path / "out" / "report.html").read_text() == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "work"]


@requires_mnist
def test_report_of_a_conv_model_end_to_end(tmp_path, monkeypatch, capsys):
    """One smoke run of `vaedyn report`: the notebook executes in a kernel and the page has the claims table."""
    from vaedyn.training.classifier import ClassifierCNN
    from vaedyn.training.store import fetch_or_create

    # An untrained CNN stored under the smoke classifier's key: the report labels with it instead of
    # spending most of this test training one (the classifier is not what is tested here).
    config = vaedyn.get_profile("smoke").classifier_config("mnist")
    fetch_or_create("classifier", config.to_dict(), lambda directory: (
        {"state_dict": ClassifierCNN().state_dict(), "side": 28, "history": []}, {"test_accuracy": 0.1}))
    save_file(tiny_conv_vae().state_dict(), str(tmp_path / "conv.safetensors"))
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli(["report", "--model", f"{EXAMPLES}:tiny_conv_vae", "--weights", "conv.safetensors",
                                 "--input-shape", "1,28,28", *SMALL, "--device", "cpu", "--out", "report",
                                 "--no-progress"], capsys)
    assert code == 0, err
    assert "model checked" in stdout and "wrote" in stdout
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["report.html", "report.ipynb", "report.json"]
    page = (tmp_path / "report" / "report.html").read_text()
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["nz"] == 8 and saved["input_shape"] == [1, 28, 28]
    for row in core.core_claims(saved["values"], "mnist"):                  # the table shows the registry's verdicts
        *_, swap, flip = re.findall(r"<td>(.*?)</td>", page.split(f"<th>{row['id']}</th>")[1].split("</tr>")[0])
        for cell, reading in ((swap, "swap"), (flip, "flip")):
            assert re.match(rf"{re.escape(row[f'verdict ({reading})'])}( \(|$)", cell), (row["id"], cell)
    assert page.count('src="data:image/png;base64,') >= 5 and "tiny_conv_vae" in page
    executed = nbformat.read(str(tmp_path / "report" / "report.ipynb"), as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "conv.safetensors", "report"]
