"""`vaedyn.plots` is `vaedyn.book.plots` (where the figure helpers live since the package was grouped
by what its modules are); the old name stays importable for code written against it."""
import sys

from .book import plots as _plots

sys.modules[__name__] = _plots
