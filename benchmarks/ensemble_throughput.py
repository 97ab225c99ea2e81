"""K VAEs trained one after another vs as one ensemble (vaedyn.training.ensemble), same configs, same epochs.

The members are a slice of the Fig. 8 grid (the paper's model, L=2, batch 100, the Methods
schedule) with different N_z and seeds, trained on the first `--train-limit` MNIST images;
both ways do the same work, including each epoch's test-set evaluation, and end with the
same weights (tests/test_ensemble.py). Prints, last, one line:
    members=K seq_s=... ens_s=... speedup=...

Usage: python benchmarks/ensemble_throughput.py [--members 6] [--epochs 1] [--train-limit 6000] [--device auto]
"""
from __future__ import annotations

import argparse
import time

import torch

from vaedyn.config import TrainConfig, resolve_device
from vaedyn.data import load_dataset
from vaedyn.training.ensemble import train_ensemble
from vaedyn.training.loop import train

LATENT_SIZES = (2, 5, 10, 14, 20, 50, 100, 3, 8, 12, 16, 30)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=6, help="ensemble size K (default: 6)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per member (default: 1)")
    parser.add_argument("--train-limit", type=int, default=6000, help="training images (default: 6000)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = (load_dataset("mnist", "train", device, limit=args.train_limit), load_dataset("mnist", "test", device))
    configs = [TrainConfig(nz=LATENT_SIZES[k % len(LATENT_SIZES)], seed=k, epochs=args.epochs,
                           train_limit=args.train_limit) for k in range(args.members)]

    train_ensemble(configs[:2], device=device, progress=False, data=data)   # warm-up: allocator, kernels
    synchronize(device)
    start = time.perf_counter()
    for config in configs:
        train(config, device=device, progress=False, data=data)
    synchronize(device)
    seq_s = time.perf_counter() - start

    start = time.perf_counter()
    train_ensemble(configs, device=device, progress=False, data=data)
    synchronize(device)
    ens_s = time.perf_counter() - start

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu threads={torch.get_num_threads()}"
    print(f"device={name} epochs={args.epochs} train_limit={args.train_limit} nz={[c.nz for c in configs]}")
    print(f"members={args.members} seq_s={seq_s:.2f} ens_s={ens_s:.2f} speedup={seq_s / ens_s:.2f}")


if __name__ == "__main__":
    main()
