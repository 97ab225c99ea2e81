"""The book: page helpers every chapter calls (`start`, `glue`), which runs a build has (`chapters`),
the papermill runner, what the executed record holds (`record`), the claims tables and the shared plots."""
from .chapters import CHAPTERS, READER_PAGES, SPREAD_NOTEBOOKS, Chapter, chapters_for, spread_runs_needed
from .page import (RUN_INFO_TAG, Run, check_labels, check_p_grid, check_trials, git_commit, glue, plain, record_dir,
                   start)
from .record import load_results, load_spread, record_summary
from .runner import build, execute, stamp_wall_time
