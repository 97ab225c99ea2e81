"""Command line: `python -m vaedyn train | infer | info | sweep | book | report`; `--help` on each documents every
option.

Every argument is validated before anything is trained or written (options one by one as they
are parsed, then the checks that need several of them or the data, in `_check`); a bad one exits
with status 2 and one line that names the value and what is allowed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import (ARCHITECTURE_RUNS, ARCHITECTURES, DATASETS, IMAGE_DATASETS, NOISE_MODES, PRECISIONS, PROFILES,
                     SWEEP_GRIDS, ConfigError, TrainConfig, check_probability)
from .randomness import RESUME_POLICIES

CROSS_DEVICE_HELP = ("a checkpoint written on another kind of device (cpu vs cuda): reseed = resume it, weights and "
                     "optimizer exactly, the random stream re-seeded from the checkpoint (recorded in meta.json); "
                     "stop = exit naming both devices (default: reseed)")


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, with a one-line message otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not allowed; it must be >= {minimum}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)
SEED_LIMIT = 2**32   # seeds are scaled (e.g. by 1_000_003 for trials) and must stay within torch's 64 bits


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; a seed is an integer in [0, {SEED_LIMIT - 1}]")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not allowed; it must be a finite number >= 0")
    return value


def _beta(text: str) -> float:
    """An argparse type: a KL weight as TrainConfig allows it (a finite number > 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return TrainConfig(beta=value).beta
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1]") from None
    try:
        return check_probability("p", value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None



def _label(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; labels are 0-9")
    return value


def _device(text: str) -> str:
    from .config import resolve_device

    try:
        resolve_device(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _shard(text: str) -> tuple[int, int]:
    from .training.sweep import parse_shard

    try:
        return parse_shard(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not allowed; it must be in (0, 1]")
    return value


def _input_shape(text: str) -> tuple[int, ...]:
    """'1,28,28' -> (1, 28, 28): the shape of one input without the batch axis."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(n < 1 for n in shape):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; give positive integers separated by commas, "
                                         "e.g. 1,28,28 or 784")
    return shape


def _model_spec(text: str) -> str:
    from .report.source import parse_model_spec

    try:
        parse_model_spec(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _output_path(text: str) -> str:
    if not text.endswith(".npz"):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; the output file must end in .npz")
    _writable(text, kind="file")
    return text


def _output_folder(text: str) -> str:
    _writable(text, kind="folder")
    return text


def _writable(text: str, kind: str) -> None:
    """`text` can be created as a `kind` ('file' or 'folder'): it is not the other kind already, and
    its nearest existing ancestor is a writable folder. Checked before training, not after it."""
    path = Path(text)
    if kind == "file" and path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; it is a folder, give a file name")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; it is a file, give a folder")
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; {ancestor} is not writable")


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="mnist", help="training data (default: mnist)")
    parser.add_argument("--nz", type=_positive_int, default=100, help="latent units N_z (default: 100)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="quick",
                        help="training budget: smoke (seconds), quick (CPU book), long (the paper's main models on CPU), "
                             "paper (1500 epochs everywhere) (default: quick)")
    parser.add_argument("--epochs", type=_positive_int, default=None, help="override the profile's epochs")
    parser.add_argument("--spread", action="store_true",
                        help="the seed spread's model of this seed: the profile's main model stopped where the "
                             "profile's seed spread stops (long: after 100 of 1500 epochs)")
    parser.add_argument("--seed", type=_seed, default=0,
                        help=f"seed of initialisation, data order and noise, 0 to {SEED_LIMIT - 1} (default: 0)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp32 (reference) or bf16 autocast (faster) (default: fp32)")
    parser.add_argument("--kl-warmup-epochs", type=_non_negative_int, default=0,
                        help="KL annealing: the KL weight rises from 0 to --beta over this many epochs "
                             "(default: 0, off)")
    parser.add_argument("--renyi-alpha", type=_non_negative_float, default=1.0,
                        help="train on the variational Renyi bound; 1 = ELBO, 0 = importance-weighted, an IWAE "
                             "with k = --samples (default: 1)")
    parser.add_argument("--samples", type=_positive_int, default=2,
                        help="L, samples of z per image in the training loss (k of an IWAE) (default: 2, the paper)")
    parser.add_argument("--beta", type=_beta, default=1.0,
                        help="weight of the KL term in the training loss (beta-VAE; needs --renyi-alpha 1); the "
                             "reported ELBO stays the true one (default: 1, the paper)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="mlp",
                        help="mlp: the paper's 784-1024-N_z network; conv: a convolutional VAE (two stride-2 "
                             "convolutions each way) (default: mlp)")
    parser.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--cross-device", choices=RESUME_POLICIES, default="reseed", help=CROSS_DEVICE_HELP)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="vaedyn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"vaedyn {_version()}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    train = commands.add_parser("train", help="train a VAE, or load it from the artifact store")
    _model_options(train)
    train.add_argument("--architectures", action="store_true",
                       help="train the profile's architecture comparison instead of one model, all on one budget: "
                            f"{', '.join(ARCHITECTURE_RUNS)}; takes --dataset, --profile, --seed and the device "
                            "options only")
    train.add_argument("--snapshots", action="store_true",
                       help="train the kept snapshots of the profile's main model (long: after 10 ... 1000 of its "
                            "1500 epochs) in one run, for a main model taken from pretrained/, which ships without "
                            "them; takes --dataset, --profile, --seed and the device options only")

    infer = commands.add_parser("infer", help="run repeated inference from noisy images; write trajectories to .npz")
    _model_options(infer)
    infer.add_argument("--label", type=_label, default=6, help="label of the start images (default: 6)")
    infer.add_argument("--p", type=_probability, default=0.2, help="noise fraction p in [0, 1] (default: 0.2)")
    infer.add_argument("--noise", choices=NOISE_MODES, default="swap",
                       help="swap: permute the selected intensities; flip: x -> 1-x (default: swap)")
    infer.add_argument("--trials", type=_positive_int, default=100, help="trajectories, one image each (default: 100)")
    infer.add_argument("--steps", type=_positive_int, default=50, help="inference steps T (default: 50)")
    infer.add_argument("--record-x", action="store_true", help="also store the images x(t)")
    infer.add_argument("--out", type=_output_path, default="trajectories.npz", help="output file (default: trajectories.npz)")

    commands.add_parser("info", help="list the trained artifacts in $VAEDYN_ARTIFACTS (default ./artifacts)")

    sweep = commands.add_parser(
        "sweep", help="train a latent-size grid (fig8, fig9) as ensembles; with no --shard, report what is missing")
    sweep.add_argument("--grid", choices=SWEEP_GRIDS, required=True,
                       help="fig8: orthogonality vs N_z over seeds; fig9: lr x batch per N_z")
    sweep.add_argument("--profile", choices=tuple(PROFILES), default="quick", help="grid size (default: quick)")
    sweep.add_argument("--dataset", choices=DATASETS, default="mnist", help="training data (default: mnist)")
    sweep.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                       help="train shard I of N (1-based; 1/1 = the whole grid); omit to gather and report")
    sweep.add_argument("--max-members", type=_positive_int, default=None,
                       help="largest ensemble trained at once (default: a whole group)")
    sweep.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    sweep.add_argument("--cross-device", choices=RESUME_POLICIES, default="reseed", help=CROSS_DEVICE_HELP)
    sweep.add_argument("--no-progress", action="store_true", help="hide progress bars")

    book = commands.add_parser("book", help="execute the book's notebooks with papermill into book/")
    book.add_argument("--profile", choices=tuple(PROFILES), default="quick", help="budget of every chapter (default: quick)")
    book.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    book.add_argument("--seed", type=_seed, default=0,
                      help=f"seed passed to every chapter, 0 to {SEED_LIMIT - 1} (default: 0)")
    book.add_argument("--out", type=_output_folder, default="book", help="folder of the executed pages (default: book)")
    book.add_argument("--results", type=_output_folder, default=None,
                      help="folder of the results JSON files (default: OUT/results)")
    book.add_argument("--only", nargs="+", default=None, metavar="CHAPTER",
                      help="run only these chapters, e.g. 03_concept_distances or fashion_mnist/04_hierarchy_stages; "
                           "'spread' for the seed spread's runs (or spread/NAME, spread/seed-1/mnist/NAME)")
    book.add_argument("--jobs", type=_positive_int, default=1,
                      help="worker processes that run pages side by side, each with its share of the CPU "
                           "threads (default: 1)")
    book.add_argument("--notebooks", default=None, help="folder of the source notebooks (default: the project's)")

    report = commands.add_parser("report", help="the paper's core findings and claims table for a model of your own, "
                                                "as report.html and report.ipynb")
    report.add_argument("--model", type=_model_spec, required=True, metavar="FILE.py:FACTORY",
                        help="the callable that returns the model, in a Python file (path/to/file.py:FACTORY) or an "
                             "importable module (MODULE:FACTORY); the model needs encode_mean(x) -> z and "
                             "decode_mean(z) -> x")
    report.add_argument("--weights", default=None, metavar="FILE",
                        help="weights to load into the model, strictly: a .safetensors file or a torch state dict "
                             "(read weights-only) (default: the weights the factory gives)")
    report.add_argument("--dataset", choices=IMAGE_DATASETS, default="mnist",
                        help="the images the model is run on; the claims are about mnist and fashion_mnist "
                             "(default: mnist)")
    report.add_argument("--input-shape", type=_input_shape, default=None, metavar="C,H,W",
                        help="shape of one input without the batch axis, e.g. 1,28,28 (default: the model's "
                             "input_shape attribute, else flat rows of the image size)")
    report.add_argument("--encode-mean", default=None, metavar="NAME",
                        help="the model's method that maps x to the mean of q(z|x), when not named encode_mean")
    report.add_argument("--decode-mean", default=None, metavar="NAME",
                        help="the model's method that maps z to the mean image, when not named decode_mean")
    report.add_argument("--encode", default=None, metavar="NAME",
                        help="optional: the model's method returning (mu, logvar), when not named encode")
    report.add_argument("--profile", choices=tuple(PROFILES), default="quick",
                        help="trials and grids of p as the book's chapters 03-05 use them (default: quick)")
    report.add_argument("--effort-scale", type=_fraction, default=1.0,
                        help="run this share of the profile's trials, at least 10 each (default: 1)")
    report.add_argument("--p-stride", type=_positive_int, default=1,
                        help="keep every N-th noise fraction of the profile's grids (default: 1, all)")
    report.add_argument("--seed", type=_seed, default=0,
                        help=f"seed of the noisy starts, 0 to {SEED_LIMIT - 1} (default: 0)")
    report.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    report.add_argument("--out", type=_output_folder, default="vaedyn-report",
                        help="folder that receives report.html, report.ipynb and report.json (default: vaedyn-report)")
    report.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def _version() -> str:
    """The installed distribution's version; the package's own when run from a source tree."""
    from importlib import metadata

    try:
        return metadata.version("vaedyn")
    except metadata.PackageNotFoundError:
        from . import __version__
        return __version__


def _config(args):
    """The TrainConfig of a train/infer command (ConfigError for a combination no config allows)."""
    from .config import get_profile

    overrides = {"precision": args.precision, "kl_warmup_epochs": args.kl_warmup_epochs,
                 "renyi_alpha": args.renyi_alpha, "n_samples": args.samples, "beta": args.beta,
                 "architecture": args.architecture}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    profile = get_profile(args.profile)
    if args.spread:
        if args.epochs is not None or args.nz != 100:
            raise ConfigError("--spread trains the profile's seed-spread model as it is; it takes no --epochs and "
                              f"no --nz other than 100 (got epochs={args.epochs!r}, nz={args.nz!r})")
        return profile.spread_config(args.dataset, args.seed, **overrides)
    return profile.train_config(args.dataset, args.nz, args.seed, **overrides)


# What `train --architectures` and `train --snapshots` take besides their flag; every other option defines one model.
PROFILE_RUNS_TAKE = ("command", "dataset", "profile", "seed", "device", "cross_device", "no_progress")
PROFILE_RUN_FLAGS = {"architectures": "the profile's architecture runs as they are",
                     "snapshots": "the profile's snapshot run as it is"}


def _check_profile_run(args, flag: str) -> None:
    """ConfigError when `train --<flag>`, which trains runs the profile defines, is given an option that
    defines a single model (or the other such flag)."""
    defaults = vars(build_parser().parse_args(["train"]))
    given = [name for name, value in vars(args).items()
             if name not in (*PROFILE_RUNS_TAKE, flag) and value != defaults[name]]
    if given:
        flags = ", ".join(f"--{name.replace('_', '-')}={getattr(args, name)!r}" for name in given)
        raise ConfigError(f"--{flag} trains {PROFILE_RUN_FLAGS[flag]}; it takes no model "
                          f"options (got {flags}); give --dataset, --profile, --seed or the device options only")


def _architecture_configs(args) -> dict:
    """The profile's architecture runs by name (`train --architectures`); ConfigError when an option that
    defines a single model is given as well."""
    from .config import get_profile

    _check_profile_run(args, "architectures")
    return get_profile(args.profile).architecture_configs(args.dataset, args.seed)


def _check(args) -> None:
    """The checks that need several options or the data, before any training or writing: the
    train/infer config; infer's trials against the training images of its label; sweep's grid in
    its profile; book's chapters and notebooks; report's model (factory, weights, protocol, shape)
    and the packages that execute its notebook. Raises ConfigError."""
    from .config import get_profile

    if args.command == "report":
        _check_report(args)

    if args.command == "train" and args.architectures:
        _architecture_configs(args)
    elif args.command == "train" and args.snapshots:
        _check_profile_run(args, "snapshots")
        get_profile(args.profile).snapshot_run(args.dataset, args.seed)
    elif args.command in ("train", "infer"):
        config = _config(args)
    if args.command == "infer":
        from .data import load_dataset

        available = int((load_dataset(args.dataset, "train", "cpu", corpus_limit=config.corpus_limit).y
                         == args.label).sum())
        if args.trials > available:
            raise ConfigError(f"trials={args.trials} is not allowed; only {available} {args.dataset} training "
                              f"images have label {args.label}")
    if args.command == "sweep" and get_profile(args.profile).grid(args.grid) is None:
        raise ConfigError(f"grid={args.grid!r} is not allowed with profile={args.profile!r}; it defines no such grid")
    if args.command == "book":
        from .book.runner import check_build
        from .files import project_path

        check_build(get_profile(args.profile), args.only, Path(args.notebooks) if args.notebooks else
                    project_path("notebooks"))


REPORT_PACKAGES = ("papermill", "nbformat", "ipykernel", "nbconvert")


def _check_report(args) -> None:
    """Build the model as the report notebook will (factory, weights, protocol, a probe against the
    dataset's image size) and check that the notebook can be executed; keeps the model for `_run`."""
    import importlib.util

    from .data import load_dataset
    from .report import load_model

    missing = [name for name in REPORT_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"vaedyn report needs {', '.join(missing)} to execute its notebook; install the book's "
                          "packages (pip install -r requirements.txt)")
    images = load_dataset(args.dataset, "test", "cpu")
    args.checked_model = load_model(args.model, args.weights, args.input_shape, n_features=images.n_features,
                                    encode_mean=args.encode_mean, decode_mean=args.decode_mean, encode=args.encode)


def report_parameters(args) -> dict:
    """The report notebook's parameters for a `report` command; paths absolute, since the notebook runs in
    a folder of its own."""
    from .report import absolute_spec

    return {"model": absolute_spec(args.model), "weights": str(Path(args.weights).resolve()) if args.weights else None,
            "input_shape": list(args.input_shape) if args.input_shape else None,
            "encode_mean": args.encode_mean, "decode_mean": args.decode_mean, "encode": args.encode,
            "dataset": args.dataset, "profile": args.profile, "device": args.device, "seed": args.seed,
            "effort_scale": args.effort_scale, "p_stride": args.p_stride}


def _report(args) -> int:
    from .protocol import FlatModel
    from .report import build_report

    model = args.checked_model
    shape = model.image_shape if isinstance(model, FlatModel) else (model.n_features,)
    parameters = report_parameters(args)
    print(f"model checked: {parameters['model']} takes inputs {shape}, N_z = {model.nz}", flush=True)
    paths = build_report(args.out, parameters, progress=not args.no_progress, say=lambda text: print(text, flush=True))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _trained(args):
    from .training.store import get_or_train

    return get_or_train(_config(args), device=args.device, progress=not args.no_progress,
                        cross_device=args.cross_device)


def _print_trained(trained) -> None:
    """Where a trained model lives and its final test negative ELBO (the true ELBO, whatever it trained on)."""
    print(f"artifact: {trained.path}")
    print(f"final test negative ELBO: {trained.final['test_negative_elbo']:.3f} nats "
          f"(reconstruction {trained.final['test_reconstruction']:.3f}, KL {trained.final['test_kl']:.3f})", flush=True)


def _failures() -> tuple[type[BaseException], ...]:
    """Errors a run can end in that are the user's to act on (a damaged or foreign artifact, a
    diverged training, missing data): printed as one line, not a traceback. Imported here: they need torch."""
    from .data import DataUnavailableError
    from .randomness import ForeignCheckpointError
    from .training.integrity import CorruptArtifactError
    from .training.loop import TrainingDivergedError
    from .report import ReportFailedError
    from .training.pretrained import StaleWeightsError

    return (CorruptArtifactError, DataUnavailableError, ForeignCheckpointError, ReportFailedError, StaleWeightsError,
            TrainingDivergedError)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check(args)
        return _run(args)
    except ConfigError as error:
        print(f"vaedyn {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except _failures() as error:
        print(f"vaedyn {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "info":
        from .training.store import artifact_root, list_artifacts

        records = list_artifacts()
        if not records:
            print(f"no artifacts under {artifact_root().resolve()}")
        for record in records:
            summary = record.get("summary", {})
            score = (f"test -ELBO {summary['test_negative_elbo']:.2f} nats" if "test_negative_elbo" in summary
                     else f"test accuracy {summary.get('test_accuracy', float('nan')):.4f}")
            print(f"{record['kind']:<10} {record['key']}  {json.dumps(record['config'], sort_keys=True)}  {score}  {record['path']}")
        return 0

    if args.command == "sweep":
        from .config import get_profile
        from .training.sweep import run_sweep, sweep_status

        if args.shard is None:
            status = sweep_status(get_profile(args.profile).grid(args.grid), args.dataset)
        else:
            status = run_sweep(args.profile, args.grid, args.dataset, shard=args.shard, device=args.device,
                               progress=not args.no_progress, max_members=args.max_members,
                               cross_device=args.cross_device)
        print(status.summary())
        return 0 if status.complete else 1

    if args.command == "report":
        return _report(args)

    if args.command == "book":
        from .book import build

        build(profile=args.profile, device=args.device, book_dir=args.out, results_dir=args.results,
              notebooks_dir=args.notebooks, only=args.only, seed=args.seed, jobs=args.jobs)
        return 0

    if args.command == "train" and args.architectures:
        from .training.store import get_or_train

        runs = _architecture_configs(args)
        for number, (name, config) in enumerate(runs.items(), 1):
            images = "all" if config.train_limit is None else f"the first {config.train_limit}"
            print(f"[{number}/{len(runs)}] {name}: {config.epochs} epoch(s) on {images} {args.dataset} training images",
                  flush=True)
            _print_trained(get_or_train(config, device=args.device, progress=not args.no_progress,
                                 cross_device=args.cross_device))
        return 0

    if args.command == "train" and args.snapshots:
        from .config import get_profile
        from .training.store import get_or_train

        config, keep = get_profile(args.profile).snapshot_run(args.dataset, args.seed)
        print(f"the {args.profile} main model's snapshots after {', '.join(map(str, (*keep, config.stop_epoch)))} "
              f"of its {config.epochs} epochs, in one run", flush=True)
        _print_trained(get_or_train(config, device=args.device, progress=not args.no_progress,
                                    cross_device=args.cross_device, keep_epochs=keep))
        return 0

    trained = _trained(args)
    if args.command == "train":
        _print_trained(trained)
        return 0

    import numpy as np

    from .data import load_dataset
    from .files import atomic_savez
    from .analysis.trials import run_trials

    data = load_dataset(args.dataset, "train", device=next(trained.model.parameters()).device,
                        corpus_limit=trained.config.corpus_limit)
    trajectory = run_trials(trained.model, data.x, data.y, args.label, args.trials, args.p, args.steps, args.noise,
                            args.seed, record_x=args.record_x)
    arrays = {"z": trajectory.z.cpu().numpy(), "indices": trajectory.indices.cpu().numpy(),
              "label": np.int64(args.label), "p": np.float64(args.p), "noise": np.str_(args.noise),
              "model_key": np.str_(trained.path.name)}
    if args.record_x:
        arrays["x"] = trajectory.x.cpu().numpy()
    atomic_savez(args.out, **arrays)
    print(f"wrote {args.out}: z {tuple(trajectory.z.shape)} (steps+1, trials, N_z)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
