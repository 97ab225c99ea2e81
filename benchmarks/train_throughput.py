"""Training throughput of the paper's VAE (N_z=100, L=2, batch 100) on MNIST.

Prints, last, one line:
    epoch_s=... floor_s=... ratio_vs_floor=... ratio_vs_dataloader=...
- epoch_s: seconds per epoch of vaedyn's loop (`train_epoch`: device-resident tensor,
  one permutation per epoch, fused Adam), mean over the measured epochs;
- floor_s: the epoch's matrix-multiply FLOPs divided by the rate at which this machine runs
  exactly those GEMM shapes (measured in this run): time the epoch would take if nothing
  but its matmuls cost anything;
- ratio_vs_dataloader: seconds per epoch of the same model and step fed by
  `torch.utils.data.DataLoader` over torchvision's MNIST (ToTensor, shuffle), divided by epoch_s.

Usage: python benchmarks/train_throughput.py [--epochs 2] [--precision fp32|bf16] [--device auto]
"""
from __future__ import annotations

import argparse
import time

import torch

from vaedyn.config import TrainConfig, resolve_device
from vaedyn.data import data_root, load_dataset
from vaedyn.train import build_model, make_optimizer, train_epoch, training_step


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


def gemm_rate(shapes, dtype: torch.dtype, device: torch.device, repeats: int = 200) -> tuple[float, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="measured epochs per method (default: 2)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    config = TrainConfig(precision=args.precision)
    train_set = load_dataset("mnist", "train", device)
    n, d = train_set.x.shape

    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    step_flops, rate = gemm_rate(gemm_shapes(config.batch_size, config.n_samples, d, config.hidden, config.nz),
                                 dtype, device)
    steps = -(-n // config.batch_size)
    floor_s = step_flops * steps / rate

    model = build_model(config, d).to(device)
    optimizer = make_optimizer(model, config.lr_values[0])
    generator = torch.Generator(device=device).manual_seed(0)

    def ours(warmup: bool):
        x = train_set.x[: 20 * config.batch_size] if warmup else train_set.x
        train_epoch(model, optimizer, x, config, generator)

    epoch_s = time_epochs(ours, args.epochs, device)

    from torchvision import datasets, transforms
    loader = torch.utils.data.DataLoader(
        datasets.MNIST(str(data_root()), train=True, download=True, transform=transforms.ToTensor()),
        batch_size=config.batch_size, shuffle=True, num_workers=0)

    def dataloader(warmup: bool):
        for i, (images, _) in enumerate(loader):
            if warmup and i == 20:
                break
            training_step(model, optimizer, images.view(images.shape[0], -1).to(device), config, generator)

    dataloader_s = time_epochs(dataloader, args.epochs, device)
    print(f"device={device} precision={args.precision} threads={torch.get_num_threads()} "
          f"gemm_rate={rate / 1e9:.1f}GFLOP/s step_gflop={step_flops / 1e9:.4f} dataloader_epoch_s={dataloader_s:.2f}")
    print(f"epoch_s={epoch_s:.2f} floor_s={floor_s:.2f} ratio_vs_floor={epoch_s / floor_s:.2f} "
          f"ratio_vs_dataloader={dataloader_s / epoch_s:.2f}")


if __name__ == "__main__":
    main()
