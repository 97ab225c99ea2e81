"""Training throughput of the paper's VAE (N_z=100, L=2, batch 100) on MNIST, per precision and
execution path, against the matrix-multiply floor measured in the same run.

For each path (fp32 and bf16 autocast, each eager and through torch.compile) it times whole
epochs of vaedyn's loop (`train_epoch`: device-resident tensor, one permutation per epoch, fused
Adam). A path's floor is the epoch's matmul FLOPs divided by the rate at which this machine runs
exactly those GEMM shapes in that dtype: the time the epoch would take if nothing but its matmuls
cost anything. Also: the same step fed by torch's DataLoader over torchvision's MNIST, and an
A/B of the Bernoulli likelihood (PyTorch's fused kernel, which vaedyn uses, against the
hand-written form of vae code version 2), with the ratio hand / stock per execution path: above 1
the stock kernel is the faster. `--likelihood-only` runs just that A/B (no MNIST epochs).

Prints, last, one line:
    fp32_epoch_s bf16_epoch_s fp32_ratio_vs_floor bf16_ratio_vs_floor best_ratio_vs_floor
    ratio_vs_dataloader paper_main_model_min recommended_precision
where each *_epoch_s is that precision's faster path, best_ratio_vs_floor the best over the paths
(bf16 only where its matmuls beat fp32's), paper_main_model_min = 1500 epochs of the
fastest faithful path (fp32: bf16 is not the reference arithmetic) in minutes, and
recommended_precision is bf16 only where its matmuls run at least 2x the fp32 rate.

Usage: python benchmarks/train_throughput.py [--epochs 1] [--device auto] [--skip-bf16] [--likelihood-only]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from vaedyn.config import TrainConfig, resolve_device
from vaedyn.data import data_root, load_dataset
from vaedyn.objective import bernoulli_log_likelihood
from vaedyn.training.loop import build_model, compute_dtype, make_optimizer, train_epoch, training_step


def gemm_shapes(batch: int, n_samples: int, d: int, hidden: int, nz: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product in one training step, forward and backward.

    Forward: four linear layers (the decoder sees L*batch rows). Backward: a weight gradient
    for every layer and an input gradient for every layer but the first (x needs none).
    """
    rows_dec = n_samples * batch
    layers = [(batch, d, hidden), (batch, hidden, 2 * nz), (rows_dec, nz, hidden), (rows_dec, hidden, d)]
    shapes = []
    for i, (m, k, n) in enumerate(layers):
        shapes.append((m, k, n))            # forward   (m x k) @ (k x n)
        shapes.append((k, m, n))            # weight grad: input^T @ grad_out
        if i > 0:
            shapes.append((m, n, k))        # input grad: grad_out @ W
    return shapes


def gemm_rate(shapes, dtype: torch.dtype, device: torch.device, repeats: int = 100) -> tuple[float, float]:
    """(FLOPs of one pass over `shapes`, measured FLOP/s on this device for those shapes)."""
    pairs = [(torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype))
             for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)
    for a, b in pairs * 10:
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        for a, b in pairs:
            a @ b
    _sync(device)
    return flops, flops * repeats / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_epochs(run_epoch, epochs: int, device: torch.device) -> float:
    run_epoch(warmup=True)
    times = []
    for _ in range(epochs):
        _sync(device)
        start = time.perf_counter()
        run_epoch(warmup=False)
        _sync(device)
        times.append(time.perf_counter() - start)
    return sum(times) / len(times)


def epoch_seconds(config: TrainConfig, x: torch.Tensor, epochs: int, device: torch.device,
                  fraction: float = 1.0) -> float:
    """Mean seconds per epoch of `train_epoch` for this config (first a short warm-up: compilation);
    with fraction < 1, timed on that share of the epoch and scaled up."""
    model = build_model(config, x.shape[1]).to(device)
    optimizer = make_optimizer(model, config.lr_values[0])
    generator = torch.Generator(device=device).manual_seed(0)
    timed = x[: max(config.batch_size, round(fraction * x.shape[0]) // config.batch_size * config.batch_size)]

    def run(warmup: bool):
        train_epoch(model, optimizer, x[: 20 * config.batch_size] if warmup else timed, config, generator)

    return time_epochs(run, epochs, device) * x.shape[0] / timed.shape[0]


def hand_written_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The stable form that vae code version 2 computed by hand (log(1 + e) with e = exp(-|l|)
    instead of log1p), kept here only as the B of the A/B below."""
    return -(logits.clamp(min=0) - x * logits + torch.log(1 + torch.exp(-logits.abs()))).sum(dim=-1)


def likelihood_ab(device: torch.device, rounds: int = 30, repeats: int = 50) -> dict[str, float]:
    """Median ms per forward + backward of the likelihood on one step's logits (L=2, batch 100,
    784) over interleaved rounds (this machine's speed drifts): vaedyn's (PyTorch's fused
    kernel) against the hand-written form, each eager and compiled."""
    logits = torch.randn(2, 100, 784, device=device, requires_grad=True)
    x = torch.rand(100, 784, device=device)
    runs = {f"{name}_{mode}": (fn if mode == "eager" else torch.compile(fn, dynamic=False))
            for name, fn in [("stock", bernoulli_log_likelihood), ("hand", hand_written_likelihood)]
            for mode in ("eager", "compiled")}
    samples = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            _sync(device)
            start = time.perf_counter()
            for _ in range(repeats):
                run(logits, x).sum().backward()
            _sync(device)
            samples[name].append((time.perf_counter() - start) / repeats * 1e3)
    return {name: statistics.median(values) for name, values in samples.items()}


def likelihood_report(ab: dict[str, float]) -> str:
    """The A/B's medians and, per execution path, the ratio hand / stock (> 1: the stock kernel is faster)."""
    ratios = {mode: ab[f"hand_{mode}"] / ab[f"stock_{mode}"] for mode in ("eager", "compiled")}
    return ("bernoulli likelihood, median ms per forward+backward (L=2, batch 100): "
            + " ".join(f"{k}={v:.3f}" for k, v in ab.items())
            + "\nbernoulli likelihood, hand / stock: " + " ".join(f"{k}={v:.2f}" for k, v in ratios.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="measured epochs per path (default: 1)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-bf16", action="store_true", help="measure fp32 only")
    parser.add_argument("--likelihood-only", action="store_true",
                        help="only the A/B of the Bernoulli likelihood (stock against hand-written kernel)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.likelihood_only:
        print(likelihood_report(likelihood_ab(device)))
        print(f"cpu_capability={torch.backends.cpu.get_cpu_capability()} threads={torch.get_num_threads()} "
              f"device={device}")
        return
    train_set = load_dataset("mnist", "train", device)
    n, d = train_set.x.shape
    base = TrainConfig()
    steps = -(-n // base.batch_size)
    shapes = gemm_shapes(base.batch_size, base.n_samples, d, base.hidden, base.nz)

    results, rates = {}, {}
    for precision in ("fp32",) if args.skip_bf16 else ("fp32", "bf16"):
        step_flops, rate = gemm_rate(shapes, compute_dtype(precision), device)
        rates[precision] = rate
        floor_s = step_flops * steps / rate
        # Without native bf16 (no AMX or avx512_bf16) its matmuls crawl: time a tenth of an epoch.
        fraction = 0.1 if precision == "bf16" and rate < rates["fp32"] else 1.0
        for compiled in (False, True):
            config = dataclasses.replace(base, precision=precision, compile=compiled)
            epoch_s = epoch_seconds(config, train_set.x, args.epochs, device, fraction)
            path = f"{precision}_{'compiled' if compiled else 'eager'}"
            results[path] = (epoch_s, floor_s, rate)
            print(f"{path}: epoch_s={epoch_s:.2f}{' (from a tenth of an epoch)' if fraction < 1 else ''} "
                  f"floor_s={floor_s:.2f} ratio_vs_floor={epoch_s / floor_s:.2f} gemm_rate={rate / 1e9:.1f}GFLOP/s",
                  flush=True)

    def best(precision):
        return min((v for k, v in results.items() if k.startswith(precision)), key=lambda v: v[0], default=None)

    fp32, bf16 = best("fp32"), best("bf16")
    fastest_fp32 = min((k for k in results if k.startswith("fp32")), key=lambda k: results[k][0])
    fp32_config = dataclasses.replace(base, compile=fastest_fp32.endswith("compiled"))

    from torchvision import datasets, transforms
    loader = torch.utils.data.DataLoader(
        datasets.MNIST(str(data_root()), train=True, download=True, transform=transforms.ToTensor()),
        batch_size=base.batch_size, shuffle=True, num_workers=0)
    model = build_model(fp32_config, d).to(device)
    optimizer = make_optimizer(model, base.lr_values[0])
    generator = torch.Generator(device=device).manual_seed(0)

    def dataloader(warmup: bool):
        for i, (images, _) in enumerate(loader):
            if warmup and i == 20:
                break
            training_step(model, optimizer, images.view(images.shape[0], -1).to(device), fp32_config, generator)

    dataloader_s = time_epochs(dataloader, args.epochs, device)
    ab = likelihood_ab(device)
    print(f"dataloader ({fastest_fp32} step): epoch_s={dataloader_s:.2f}")
    print(likelihood_report(ab))
    print(f"cpu_capability={torch.backends.cpu.get_cpu_capability()} threads={torch.get_num_threads()} device={device}")
    # bf16 whose matmuls run slower than fp32's (no native bf16) says nothing about overhead.
    ratios = {k: v[0] / v[1] for k, v in results.items() if k.startswith("fp32") or rates["bf16"] >= rates["fp32"]}
    recommended = "bf16" if bf16 is not None and bf16[2] >= 2 * fp32[2] else "fp32"
    print(f"fp32_epoch_s={fp32[0]:.2f} bf16_epoch_s={bf16[0] if bf16 else float('nan'):.2f} "
          f"fp32_ratio_vs_floor={fp32[0] / fp32[1]:.2f} "
          f"bf16_ratio_vs_floor={bf16[0] / bf16[1] if bf16 else float('nan'):.2f} "
          f"best_ratio_vs_floor={min(ratios.values()):.2f} ratio_vs_dataloader={dataloader_s / fp32[0]:.2f} "
          f"paper_main_model_min={1500 * fp32[0] / 60:.1f} recommended_precision={recommended}")


if __name__ == "__main__":
    main()
