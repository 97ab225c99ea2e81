"""The `bach_chorales` dataset: Bach's four-voice chorales from music21's bundled corpus as binary piano
rolls, cut into two-bar segments, split by chorale, labelled by mode and key.

Built offline from the files music21 installs (music21/corpus/bach/*.mxl, *.xml), once, and cached under
`data_root()/bach_chorales/` in a file named by a checksum of everything the build reads: music21's
version, the content of every corpus file, the grid, segment and pitch-range parameters and this
module's `BUILD_VERSION`. A changed input gives a new file; the cache is never trusted by name alone.

Which chorales: those with exactly four parts (soprano, alto, tenor, bass), in 4/4 throughout, whose
every note lies on the sixteenth-note grid and within `PITCHES`. The others are skipped, with the reason
kept in the cache's manifest (`ChoraleTable.skipped`).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rolls import STEPS_PER_QUARTER, OffGridError, PitchRange, score_to_roll

DATASET = "bach_chorales"
# MIDI 36-81 (C2-A5): the lowest and highest notes of the four-voice 4/4 chorales, measured on music21
# 10.5's corpus; a chorale with a note outside it is skipped, not clipped.
PITCHES = PitchRange(lowest=36, count=46)
BAR_STEPS = 4 * STEPS_PER_QUARTER          # one bar of 4/4 on the sixteenth grid
SEGMENT_BARS = 2                           # a segment: two bars, about one chorale phrase
SEGMENT_STEPS = SEGMENT_BARS * BAR_STEPS   # 32 steps: inputs of 46 x 32 = 1472 units
HOP_STEPS = BAR_STEPS                      # a segment starts on every downbeat, so segments overlap by a bar
TEST_FRACTION = 0.2                        # share of the chorales (not of the segments) held out for testing
SPLIT_SEED = 0
MODES = ("major", "minor")                 # the label `y` of the dataset: 0 major, 1 minor
PITCH_CLASS_NAMES = ("C", "C#", "D", "E♭", "E", "F", "F#", "G", "A♭", "A", "B♭", "B")
KEY_NAMES = tuple(f"{tonic} {mode}" for mode in MODES for tonic in PITCH_CLASS_NAMES)   # index: 12 * mode + tonic
# Bump when the build changes what it writes for the same inputs.
BUILD_VERSION = 1


@dataclass
class ChoraleTable:
    """The whole dataset as built: every segment of every chorale used, both splits, with its labels."""

    rolls: np.ndarray          # (segments, pitches * steps) uint8 in {0, 1}: (pitches, steps) rolls, row by row
    chorale: np.ndarray        # (segments,) index into `chorales`
    start: np.ndarray          # (segments,) first step of the segment within its chorale's roll
    mode: np.ndarray           # (segments,) 0 major, 1 minor: the chorale's mode
    key: np.ndarray            # (segments,) index into KEY_NAMES: the chorale's key
    is_test: np.ndarray        # (segments,) bool: the segment's chorale is a test chorale
    chorales: list[str]        # the chorales used, by corpus file name
    keys: dict[str, str]       # chorale -> the key music21's analysis names (its own spelling)
    skipped: dict[str, str]    # chorale -> why it was left out
    checksum: str
    build_seconds: float       # how long the first build took

    @property
    def shape(self) -> tuple[int, int]:
        return PITCHES.count, SEGMENT_STEPS

    def split(self, name: str) -> np.ndarray:
        """Indices of the segments of one split ('train' or 'test')."""
        return np.flatnonzero(self.is_test if name == "test" else ~self.is_test)

    def test_chorales(self) -> set[str]:
        return {self.chorales[i] for i in np.unique(self.chorale[self.is_test])}

    def train_chorales(self) -> set[str]:
        return {self.chorales[i] for i in np.unique(self.chorale[~self.is_test])}


def corpus_files(limit: int | None = None) -> list[Path]:
    """The Bach files of music21's corpus (MusicXML), sorted by name; the first `limit` of them when given.

    Listed from the installed package's folder rather than `music21.corpus.getComposer('bach')` (which
    gives the same files, with .krn and analysis duplicates to filter) so that a cache hit needs no import
    of music21, which takes most of a second."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        from ..data import DataUnavailableError
        raise DataUnavailableError(f"{DATASET} is built from music21's corpus, and music21 is not installed; "
                                   "pip install music21 (pip install -r requirements.txt installs it)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "corpus" / "bach"
    files = sorted([*folder.glob("*.mxl"), *folder.glob("*.xml")], key=lambda p: p.name)
    return files[:limit] if limit is not None else files


def build_parameters() -> dict:
    """Everything besides the corpus files that decides what the build writes."""
    return {"build_version": BUILD_VERSION, "pitch_lowest": PITCHES.lowest, "pitch_count": PITCHES.count,
            "steps_per_quarter": STEPS_PER_QUARTER, "segment_steps": SEGMENT_STEPS, "hop_steps": HOP_STEPS,
            "test_fraction": TEST_FRACTION, "split_seed": SPLIT_SEED, "key_analysis": "music21 analyze('key')"}


def input_checksum(files: list[Path]) -> str:
    """sha256 over music21's version, each corpus file's name and content hash, and `build_parameters`."""
    record = {"music21": importlib.metadata.version("music21"), "parameters": build_parameters(),
              "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def cache_path(root: Path, checksum: str) -> Path:
    return Path(root) / DATASET / f"{DATASET}-{checksum[:16]}.npz"


def chorale_key(score) -> tuple[int, str]:
    """(index into KEY_NAMES, music21's name) of a chorale's key.

    music21's `analyze('key')`: the Krumhansl-Schmuckler key-finding algorithm with Aarden and Essen's key
    profiles (music21's default), which picks the major or minor key whose profile correlates best with the
    duration-weighted pitch-class histogram. Run once per chorale, not per segment: two bars hold too few
    notes for a stable estimate (a cadence in the relative or dominant key would flip it), and the key of
    the piece is the class a listener names, as the digit is the class of an MNIST image; every segment
    carries its chorale's key and mode, so a modulating passage keeps the home key's label."""
    found = score.analyze("key")
    mode = MODES.index(found.mode)
    return 12 * mode + found.tonic.pitchClass, f"{found.tonic.name} {found.mode}"


def chorale_problem(score) -> str | None:
    """Why a parsed chorale is left out (None: it is used): not four voices, or not in 4/4 throughout. A reason
    is its category, then details in brackets (`skip_category`)."""
    if len(score.parts) != 4:
        return f"not four voices ({len(score.parts)} parts)"
    signatures = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    if signatures != {"4/4"}:
        return f"not 4/4 throughout ({', '.join(sorted(signatures)) or 'no time signature'})"
    return None


def skip_category(reason: str) -> str:
    """A skip reason without its details: 'not four voices (5 parts)' -> 'not four voices'."""
    return reason.split(" (")[0]


def first_downbeat(score) -> int:
    """The step of the first full bar's downbeat: after the pickup, when the chorale starts with one."""
    bar = score.parts[0].measure(1)
    return 0 if bar is None else int(round(float(bar.offset) * STEPS_PER_QUARTER))


def segment_starts(length: int, downbeat: int) -> np.ndarray:
    """First steps of the two-bar segments of a roll of `length` steps: every downbeat from `downbeat` on
    whose segment ends within the roll."""
    return np.arange(downbeat, length - SEGMENT_STEPS + 1, HOP_STEPS)


def split_chorales(count: int) -> np.ndarray:
    """Boolean (count,): which chorales are test chorales, a seeded random `TEST_FRACTION` of them."""
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    is_test = np.zeros(count, dtype=bool)
    is_test[order[:round(TEST_FRACTION * count)]] = True
    return is_test


def parse_chorale(path: Path):
    """One corpus file as a music21 score (not pickled into music21's scratch folder)."""
    from . import music21

    return music21().converter.parse(path, forceSource=True, storePickle=False)


def build_table(files: list[Path], checksum: str, progress: bool = True) -> ChoraleTable:
    """Parse every file, keep the usable chorales, cut their rolls into segments and label them."""
    from tqdm import tqdm

    from ..progress import progress_file

    started = time.perf_counter()
    used, keys, skipped = [], {}, {}
    rolls, chorale, start, key = [], [], [], []
    for path in tqdm(files, desc=f"{DATASET}: parsing music21's corpus (first use only)", unit="file",
                     disable=not progress, file=progress_file()):
        try:
            score = parse_chorale(path)
        except Exception as error:   # music21 raises many types for a file it cannot read
            skipped[path.name] = f"music21 cannot parse it ({type(error).__name__})"
            continue
        problem = chorale_problem(score)
        if problem is None:
            try:
                roll = score_to_roll(score, PITCHES)
            except OffGridError as error:
                problem = f"a note off the sixteenth-note grid ({error})"
            except ValueError as error:
                problem = f"a pitch outside MIDI {PITCHES.lowest}-{PITCHES.highest} ({error})"
        if problem is None:
            starts = segment_starts(roll.shape[1], first_downbeat(score))
            problem = None if len(starts) else "shorter than one two-bar segment"
        if problem is not None:
            skipped[path.name] = problem
            continue
        index, keys[path.name] = chorale_key(score)
        rolls.extend(roll[:, s:s + SEGMENT_STEPS].reshape(-1) for s in starts)
        chorale.extend([len(used)] * len(starts))
        start.extend(starts.tolist())
        key.extend([index] * len(starts))
        used.append(path.name)
    if not used:
        raise ValueError(f"no chorale of {len(files)} files is usable: {skipped}")
    chorale = np.asarray(chorale, dtype=np.int64)
    key = np.asarray(key, dtype=np.int64)
    return ChoraleTable(rolls=np.stack(rolls).astype(np.uint8), chorale=chorale,
                        start=np.asarray(start, dtype=np.int64),
                        mode=key // 12, key=key, is_test=split_chorales(len(used))[chorale], chorales=used, keys=keys,
                        skipped=skipped, checksum=checksum, build_seconds=time.perf_counter() - started)


def save_table(table: ChoraleTable, path: Path) -> None:
    """Write the table atomically: arrays, and a manifest (chorales, keys, skips, checksum) as JSON."""
    from ..files import atomic_savez

    manifest = {"chorales": table.chorales, "keys": table.keys, "skipped": table.skipped, "checksum": table.checksum,
                "build_seconds": table.build_seconds, "parameters": build_parameters()}
    atomic_savez(path, rolls=table.rolls, chorale=table.chorale, start=table.start, mode=table.mode, key=table.key,
                 is_test=table.is_test, manifest=np.asarray(json.dumps(manifest, sort_keys=True)))


def read_table(path: Path) -> ChoraleTable:
    """The table a `save_table` wrote; DataUnavailableError naming the file when it cannot be read (it is
    derived data: deleting it makes the next use build it again)."""
    import zipfile

    try:
        with np.load(path) as arrays:
            manifest = json.loads(str(arrays["manifest"]))
            return ChoraleTable(rolls=arrays["rolls"], chorale=arrays["chorale"], start=arrays["start"],
                                mode=arrays["mode"], key=arrays["key"], is_test=arrays["is_test"],
                                chorales=manifest["chorales"], keys=manifest["keys"], skipped=manifest["skipped"],
                                checksum=manifest["checksum"], build_seconds=manifest["build_seconds"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        from ..data import DataUnavailableError
        raise DataUnavailableError(f"the cached {DATASET} file {path} cannot be read ({type(error).__name__}: "
                                   f"{error}); delete it and the next use builds it again") from None


def chorale_table(root: str | Path | None = None, corpus_limit: int | None = None,
                  progress: bool = True) -> ChoraleTable:
    """The dataset from its cache under `root` (default `data_root()`), built first when the cache for the
    current inputs is missing. `corpus_limit` builds it from the first n corpus files only (a smaller dataset
    of its own, for smoke runs and tests)."""
    from ..data import data_root

    files = corpus_files(corpus_limit)
    checksum = input_checksum(files)
    path = cache_path(Path(root) if root is not None else data_root(), checksum)
    if not path.exists():
        save_table(build_table(files, checksum, progress), path)
    return read_table(path)


def load_split(split: str, root: str | Path | None = None, corpus_limit: int | None = None):
    """One split as `data.load_dataset` takes it: (x float32 (n, pitches * steps), y = mode int64,
    (pitches, steps), {"key": int64 key index (KEY_NAMES), "chorale": int64 index of the chorale})."""
    import torch

    table = chorale_table(root, corpus_limit)
    rows = table.split(split)
    x = torch.from_numpy(table.rolls[rows].astype(np.float32))
    labels = {"key": torch.from_numpy(table.key[rows]), "chorale": torch.from_numpy(table.chorale[rows])}
    return x, torch.from_numpy(table.mode[rows]), table.shape, labels
