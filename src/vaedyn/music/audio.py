"""Piano rolls as sound: rendered with FluidSynth and a General MIDI soundfont when both are installed
(Debian: `apt-get install fluidsynth fluid-soundfont-gm`, which `make` does where it may), else with a plain
additive synthesis in numpy; compressed to Ogg Opus with `soundfile` (whose wheel bundles libsndfile), and
embedded in a page as an HTML <audio> element.
"""
from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rolls import STEPS_PER_QUARTER, TEMPO_BPM, PitchRange, roll_notes, roll_to_midi

SAMPLE_RATE = 24_000          # one of the rates Opus takes (8, 12, 16, 24, 48 kHz); ample for an organ
TAIL_SECONDS = 0.5            # silence after the last step, for the last notes' release
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
SOUNDFONT_ENV = "VAEDYN_SOUNDFONT"     # a General MIDI soundfont elsewhere
OPUS_COMPRESSION = 0.9        # about 24-32 kbit/s for these clips: 3-4 kB per second of audio


@dataclass(frozen=True)
class Clip:
    """One rendered, encoded sound: its file bytes, their MIME type, its length and which synthesiser made it."""

    data: bytes
    mime: str
    seconds: float
    synthesiser: str

    def html(self) -> str:
        """An HTML <audio> element with the clip embedded (base64), playable offline."""
        encoded = base64.b64encode(self.data).decode()
        return f'<audio controls preload="auto" src="data:{self.mime};base64,{encoded}"></audio>'

    def _repr_html_(self) -> str:
        return self.html()


def roll_seconds(steps: int, tempo_bpm: float = TEMPO_BPM) -> float:
    """How long `steps` grid steps last at `tempo_bpm` quarter notes per minute."""
    return steps / STEPS_PER_QUARTER * 60.0 / tempo_bpm


def soundfont() -> Path | None:
    """The General MIDI soundfont to render with: $VAEDYN_SOUNDFONT, else Debian's, else None."""
    for candidate in (os.environ.get(SOUNDFONT_ENV), *SOUNDFONTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def synthesiser() -> str:
    """'fluidsynth' when the FluidSynth program and a soundfont are installed, else 'additive'."""
    return "fluidsynth" if shutil.which("fluidsynth") and soundfont() is not None else "additive"


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """`samples` cut or padded with silence to exactly `length` samples."""
    out = np.zeros(length, dtype=np.float32)
    out[:min(length, len(samples))] = samples[:length]
    return out


def render_fluidsynth(roll: np.ndarray, pitches: PitchRange, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The roll played by FluidSynth (church organ of the GM soundfont), mono float32 at `rate`."""
    with tempfile.TemporaryDirectory(prefix="vaedyn-audio-") as folder:
        midi, wav = Path(folder) / "clip.mid", Path(folder) / "clip.wav"
        roll_to_midi(roll, midi, pitches)
        subprocess.run(["fluidsynth", "-n", "-i", "-q", "-F", str(wav), "-T", "wav", "-O", "s16", "-r", str(rate),
                        "-g", "0.6", str(soundfont()), str(midi)], check=True, capture_output=True, timeout=120)
        with wave.open(str(wav), "rb") as handle:
            frames = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
            channels = handle.getnchannels()
    return frames.reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0


def render_additive(roll: np.ndarray, pitches: PitchRange, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The roll as a plain organ-like additive synthesis: each note a sum of three harmonics (1, 1/2, 1/4)
    with 10 ms linear fade-in and fade-out, mono float32 at `rate`, peak 0.5 (or silence)."""
    roll = np.asarray(roll) > 0.5
    step = roll_seconds(1)
    out = np.zeros(int(round(roll_seconds(roll.shape[1]) * rate)) + 1, dtype=np.float64)
    fade = int(0.01 * rate)
    for row, start, length in zip(*roll_notes(roll)):
        first, count = int(round(start * step * rate)), int(round(length * step * rate))
        t = np.arange(count) / rate
        frequency = 440.0 * 2.0 ** ((pitches.lowest + int(row) - 69) / 12.0)
        tone = sum(weight * np.sin(2 * np.pi * harmonic * frequency * t)
                   for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)))
        envelope = np.minimum(1.0, np.minimum(np.arange(count), np.arange(count)[::-1]) / max(fade, 1))
        out[first:first + count] += tone * envelope
    peak = np.abs(out).max()
    return (0.5 * out / peak if peak > 0 else out).astype(np.float32)


def encode_opus(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """Mono float samples as an Ogg Opus file (`OPUS_COMPRESSION`)."""
    import soundfile   # imported on first use: `import vaedyn` stays light

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(samples, -1.0, 1.0).astype(np.float32), rate, format="OGG", subtype="OPUS",
                    compression_level=OPUS_COMPRESSION)
    return buffer.getvalue()


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate) of an encoded clip (Ogg Opus, WAV: any format libsndfile reads)."""
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate


GAP_STEPS = 16                # silence between clips rendered in one pass: a bar, 3 s, longer than the reverb


def roll_clips(rolls, pitches: PitchRange, synth: str | None = None, rate: int = SAMPLE_RATE) -> list[Clip]:
    """Rolls (each flat or (pitches.count, steps), values in [0, 1], above 1/2 a note) as encoded clips, each
    exactly its roll's duration plus `TAIL_SECONDS`. All of them are rendered in one pass, a bar of silence
    apart, and cut apart again: FluidSynth loads its 140 MB soundfont once, not once per clip. `synth` is
    'fluidsynth' or 'additive' (default: the best installed, `synthesiser`)."""
    synth = synth or synthesiser()
    render = {"fluidsynth": render_fluidsynth, "additive": render_additive}.get(synth)
    if render is None:
        raise ValueError(f"synth={synth!r} is not allowed; choose fluidsynth or additive")
    rolls = [np.asarray(r.detach().cpu() if hasattr(r, "detach") else r, dtype=np.float32).reshape(pitches.count, -1)
             for r in rolls]
    starts = np.cumsum([0] + [r.shape[1] + GAP_STEPS for r in rolls])
    together = np.zeros((pitches.count, starts[-1]), dtype=np.float32)
    for roll, start in zip(rolls, starts):
        together[:, start:start + roll.shape[1]] = roll
    samples = render(together, pitches, rate)
    clips = []
    for roll, start in zip(rolls, starts):
        seconds = roll_seconds(roll.shape[1]) + TAIL_SECONDS
        first = int(round(roll_seconds(start) * rate))
        clip = fit_length(samples[first:], int(round(seconds * rate)))
        clips.append(Clip(encode_opus(clip, rate), "audio/ogg", seconds, synth))
    return clips


def roll_clip(roll, pitches: PitchRange, synth: str | None = None, rate: int = SAMPLE_RATE) -> Clip:
    """One roll as an encoded clip (`roll_clips`)."""
    return roll_clips([roll], pitches, synth, rate)[0]
