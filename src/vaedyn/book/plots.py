"""Shared figure style and the few plot shapes several chapters use.

Colour-blind-safe palettes (seaborn's `colorblind`, viridis/cividis maps), labelled axes,
PNG at a moderate dpi so an executed notebook stays small.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

DPI = 90
LEVEL_COLOURS = dict(zip(("memory", "concept", "abstract"), sns.color_palette("colorblind", 3)))
LEVEL_NAMES = {"memory": r"memory $\xi^{(i)}$", "concept": r"concept $\bar\xi_k$",
               "abstract": r"abstract $\bar\xi_{all}$"}


def use_style() -> None:
    """Apply the book's figure style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (6.4, 4.0),
                                "axes.titlesize": "medium", "image.cmap": "viridis"})


def _numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def image_grid(images, side: int, ncols: int, ax=None, titles=None, vmin: float = 0.0, vmax: float = 1.0):
    """Show flattened images (n, side*side) in a grid on one axis; returns the axis."""
    images = _numpy(images).reshape(-1, side, side)
    n = images.shape[0]
    nrows = -(-n // ncols)
    canvas = np.full((nrows * (side + 1) - 1, ncols * (side + 1) - 1), np.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        canvas[r * (side + 1):r * (side + 1) + side, c * (side + 1):c * (side + 1) + side] = image
    if ax is None:
        _, ax = plt.subplots(figsize=(ncols * 0.6, nrows * 0.6))
    ax.imshow(canvas, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if titles is not None:
        for k, title in enumerate(titles):
            r, c = divmod(k, ncols)
            ax.text(c * (side + 1) + side / 2, r * (side + 1) - 1, title, ha="center", va="bottom", fontsize=7)
    return ax


def mean_band(ax, values, label: str | None = None, color=None, k_sem: float = 1.0, x=None):
    """Plot the mean over trials of values (T, trials) with a band of +/- k_sem standard errors."""
    values = _numpy(values)
    mean = values.mean(axis=1)
    err = k_sem * values.std(axis=1, ddof=1) / np.sqrt(values.shape[1])
    x = np.arange(values.shape[0]) if x is None else _numpy(x)
    line, = ax.plot(x, mean, label=label, color=color)
    ax.fill_between(x, mean - err, mean + err, color=line.get_color(), alpha=0.3, linewidth=0)
    return line


def latent_size_axis(ax, sizes) -> None:
    """A log x axis ticked at exactly the latent sizes of a grid, labelled as plain integers."""
    from matplotlib.ticker import NullLocator, ScalarFormatter

    ax.set_xscale("log")
    ax.set_xticks(list(sizes))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("latent units $N_z$")


def piano_roll(roll, shape: tuple[int, int], lowest: int, ax=None, title: str | None = None, bar_steps: int = 16):
    """One piano roll (flattened or (pitches, steps)) with values in [0, 1]: time left to right, low pitches at
    the bottom, a line at every bar, MIDI pitch on the y axis (the C's labelled). Returns the axis."""
    roll = _numpy(roll).reshape(shape)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 1.6))
    ax.imshow(roll, origin="lower", aspect="auto", cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    for bar in range(bar_steps, shape[1], bar_steps):
        ax.axvline(bar - 0.5, color="tab:red", linewidth=0.6, alpha=0.6)
    octaves = [row for row in range(shape[0]) if (lowest + row) % 12 == 0]
    ax.set_yticks(octaves, [f"C{(lowest + row) // 12 - 1}" for row in octaves], fontsize=6)
    ax.set_xticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def figure_png(fig) -> bytes:
    """A figure as PNG bytes (at the book's dpi), for pages that place images in HTML of their own."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def listening_table(rows: list[tuple[str, object, object]], shape: tuple[int, int], lowest: int):
    """An HTML table of (label, roll, clip) rows: what it is, the roll drawn as a piano roll, and the clip as
    an <audio> element (`music.audio.Clip`), so each sound sits beside its picture. Returns IPython's HTML."""
    import base64

    from IPython.display import HTML

    cells = []
    for label, roll, clip in rows:
        fig, ax = plt.subplots(figsize=(3.0, 1.3))
        piano_roll(roll, shape, lowest, ax=ax)
        image = base64.b64encode(figure_png(fig)).decode()
        plt.close(fig)
        cells.append(f'<tr><td style="text-align:left">{label}</td>'
                     f'<td><img alt="piano roll: {label}" src="data:image/png;base64,{image}"></td>'
                     f"<td>{clip.html()}</td></tr>")
    return HTML('<table class="vaedyn-listening"><thead><tr><th>segment</th><th>piano roll (pitch up, time right)'
                '</th><th>listen</th></tr></thead><tbody>' + "".join(cells) + "</tbody></table>")
