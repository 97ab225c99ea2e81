"""Where progress bars go. The book's runner names a file in $VAEDYN_PROGRESS_FILE before it starts a
page's kernel and relays that file to its terminal (`book.runner.relayed_progress`), so a training
inside a page shows its progress to the person waiting, and the committed page holds no progress bar.
Anywhere else (the CLI, a notebook of one's own) bars go to stderr as usual.
"""
from __future__ import annotations

import os
import sys

PROGRESS_ENV = "VAEDYN_PROGRESS_FILE"
_opened: dict[str, object] = {}


def progress_file():
    """The stream for tqdm's `file=`: the runner's relay file when one is named, else sys.stderr."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return sys.stderr
    if path not in _opened:
        _opened[path] = open(path, "a", buffering=1, encoding="utf-8")   # line-buffered: the relay sees each update
    return _opened[path]
