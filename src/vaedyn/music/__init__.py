"""Music (issue 13): binary piano rolls and MIDI (`rolls`), Bach's chorales from music21's corpus as a
dataset (`chorales`), and rolls as sound (`audio`). music21 is imported only inside functions, through
`music21()`: importing it takes most of a second, and `import vaedyn` must stay fast."""
from __future__ import annotations


def music21():
    """The music21 package, imported.

    Imported inside a Jupyter kernel, music21 starts a timer that a second later sets matplotlib's inline
    figures to 'retina' (twice the pixels in each direction) and turns on interactive mode, for every figure
    of the page after it; the book's figures keep the book's format, so the timer is cancelled here."""
    import music21 as package

    timer = getattr(package.ipython21, "t", None)   # the timer exists only when music21 was imported in a notebook
    if timer is not None:
        timer.cancel()
    return package
