"""The book: page helpers every chapter calls (`start`, `glue`), the papermill runner, the claims
registry and the shared plots."""
from .page import (RUN_INFO_TAG, Run, check_labels, check_p_grid, check_trials, git_commit, glue, plain, record_dir,
                   start)
from .runner import (CHAPTERS, READER_PAGES, SPREAD_NOTEBOOKS, Chapter, build, chapters_for, execute, load_results,
                     load_spread, record_summary, spread_runs_needed, stamp_wall_time)
