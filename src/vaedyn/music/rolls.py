"""Binary piano rolls: a score on a sixteenth-note grid as a (pitch x step) array of {0, 1}, and back.

A cell is 1 while some voice sounds that pitch during that sixteenth. Two voices on one pitch, or one
pitch struck again right after itself, give one run of ones: a binary roll keeps which pitches sound,
not how often they are struck (the usual piano-roll convention; an onset channel would double the input).
So the exact round trip is roll -> MIDI -> roll: `roll_to_midi` writes every run of ones of a pitch as
one note, and `midi_to_roll` reads each note back as its run.

music21 reads and writes the scores and MIDI files; it is imported inside the functions
(`vaedyn.music.music21`), since importing it takes most of a second and `import vaedyn` must stay fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

STEPS_PER_QUARTER = 4            # a sixteenth-note grid
TEMPO_BPM = 80                   # how fast the rolls are played back (quarter notes per minute)
ORGAN_PROGRAM = 19               # General MIDI program 20 (0-based 19): church organ, what a chorale is sung to


class OffGridError(ValueError):
    """A note starts or ends between two steps of the grid, so no roll holds it exactly."""


@dataclass(frozen=True)
class PitchRange:
    """The MIDI pitches a roll has rows for: `lowest` (row 0) up to `lowest + count - 1`."""

    lowest: int
    count: int

    @property
    def highest(self) -> int:
        return self.lowest + self.count - 1


def _steps(quarter_length, what: str) -> int:
    """A time in quarter notes as a whole number of grid steps; OffGridError when it falls between steps."""
    steps = Fraction(quarter_length).limit_denominator(10_000) * STEPS_PER_QUARTER
    if steps.denominator != 1:
        raise OffGridError(f"{what} {float(quarter_length)} quarter notes is not on the sixteenth-note grid")
    return int(steps)


def score_notes(score) -> list[tuple[int, int, int]]:
    """Every sounding note of a music21 stream as (MIDI pitch, first step, steps), grace notes (no duration)
    left out; OffGridError for a note off the grid. Tied notes stay separate notes: in a roll they fill the
    same cells as one long note would (music21's stripTies, which joins them, took as long as parsing the file)."""
    notes = []
    for element in score.flatten().notes:
        if element.quarterLength == 0:
            continue
        start = _steps(element.offset, "a note at")
        length = _steps(element.quarterLength, "a note of")
        notes.extend((p.midi, start, length) for p in element.pitches)
    return notes


def notes_to_roll(notes: list[tuple[int, int, int]], pitches: PitchRange, steps: int | None = None) -> np.ndarray:
    """The binary roll (pitches.count, steps) of (MIDI pitch, first step, steps) notes; `steps` defaults to
    the end of the last note. ValueError for a pitch outside the range."""
    total = max((start + length for _, start, length in notes), default=0) if steps is None else steps
    roll = np.zeros((pitches.count, total), dtype=np.uint8)
    for pitch, start, length in notes:
        if not pitches.lowest <= pitch <= pitches.highest:
            raise ValueError(f"pitch {pitch} is outside the roll's range {pitches.lowest}-{pitches.highest}")
        roll[pitch - pitches.lowest, start:start + length] = 1
    return roll


def score_to_roll(score, pitches: PitchRange) -> np.ndarray:
    """A music21 score as a binary roll (pitches.count, steps) from its first beat to its last note's end."""
    return notes_to_roll(score_notes(score), pitches)


def roll_notes(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of ones of a roll as notes: (row, first step, steps) arrays, one entry per run."""
    padded = np.pad(np.asarray(roll, dtype=np.int8), ((0, 0), (1, 1)))
    change = np.diff(padded, axis=1)
    rows, starts = np.nonzero(change == 1)
    _, ends = np.nonzero(change == -1)   # row-major order: each row's ends pair with its starts
    return rows, starts, ends - starts


def roll_to_midi(roll: np.ndarray, path: str | Path, pitches: PitchRange, tempo_bpm: float = TEMPO_BPM,
                 program: int = ORGAN_PROGRAM) -> Path:
    """Write a binary roll as a MIDI file: each run of ones of a pitch becomes one note, played at
    `tempo_bpm` quarter notes per minute on General MIDI `program`. Values above 1/2 count as ones."""
    from . import music21

    instrument, note, stream, tempo = (getattr(music21(), name) for name in ("instrument", "note", "stream", "tempo"))
    roll = np.asarray(roll) > 0.5
    part = stream.Part()
    voice = instrument.Instrument()
    voice.midiProgram = program
    part.insert(0, voice)
    part.insert(0, tempo.MetronomeMark(number=tempo_bpm))
    for row, start, length in zip(*roll_notes(roll)):
        sounding = note.Note(midi=pitches.lowest + int(row), quarterLength=Fraction(int(length), STEPS_PER_QUARTER))
        part.insert(Fraction(int(start), STEPS_PER_QUARTER), sounding)
    path = Path(path)
    part.write("midi", fp=str(path))
    return path


def midi_notes(path: str | Path) -> list[tuple[int, int, int]]:
    """Every note of a MIDI file as (MIDI pitch, first step, steps), from its note-on and note-off events.

    Read from the events themselves (music21's low-level `midi.MidiFile`), not through a music21 score:
    turning a MIDI file into a score groups notes that start together into chords of one duration, which
    would change the notes' lengths."""
    from . import music21

    file = music21().midi.MidiFile()
    file.open(str(path))
    try:
        file.read()
    finally:
        file.close()

    def steps(ticks: int, what: str) -> int:
        return _steps(Fraction(ticks, file.ticksPerQuarterNote), what)

    notes = []
    for track in file.tracks:
        now, sounding = 0, {}
        for event in track.events:
            if event.isDeltaTime():
                now += event.time
            elif event.isNoteOn():
                sounding[(event.channel, event.pitch)] = now
            elif event.isNoteOff() and (event.channel, event.pitch) in sounding:
                start = sounding.pop((event.channel, event.pitch))
                notes.append((event.pitch, steps(start, "a note at"), steps(now - start, "a note of")))
    return notes


def midi_to_roll(path: str | Path, pitches: PitchRange, steps: int | None = None) -> np.ndarray:
    """A MIDI file's notes as a binary roll (pitches.count, steps); see `notes_to_roll`."""
    return notes_to_roll(midi_notes(path), pitches, steps)
