"""Labelled audio rendered from real instrument sounds, for checking energy, valence and tempo.

Nobody has rated these; the labels come from how they are made, and each cue's direction
is the one listening studies agree on (Gabrielsson & Lindstrom 2010; Eerola, Friberg &
Bresin 2013, who varied one cue at a time): energy (arousal) rises with loudness, tempo,
event density and brightness; valence rises with major mode, faster tempo and higher
register, and mode matters most. Tempo is known because we place the notes.

Sounds are cut from the openly licensed recordings in examples/audio (vibraphone hits
from Kevin MacLeod's "Vibe Ace", trumpet notes from Mihai Sorohan's 90 bpm loop, a string
section from the US Army Strings' Hungarian Dance) and shifted in pitch by resampling
(the mood pieces' melodies use the trumpet notes retuned to exact pitches, over chords
of a synthesised harmonic pad, so that major and minor are what they say);
the drum kit is synthesised (a kick's falling sine, a snare's tone and noise, a hat's
high-passed noise). Everything is 16 kHz mono, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "examples" / "audio"
SR = 16000


@dataclass
class Rendered:
    name: str
    samples: np.ndarray
    bpm: float | None = None
    energy_cues: int | None = None  # how many of (loud, fast, dense, bright) are high: 0..4
    valence_cues: int | None = None  # how many of (major, fast, high register) are positive: 0..3


def _decode(name: str) -> np.ndarray:
    from attune.indexer.audio import decode

    return decode(AUDIO / name).samples


def _cut_notes(samples: np.ndarray, seconds: float, count: int, min_gap: float) -> list[np.ndarray]:
    """The `count` strongest attacks of a recording, each `seconds` long with a short fade."""
    import librosa

    env = librosa.onset.onset_strength(y=samples, sr=SR)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=SR, backtrack=True)
    strength = env[np.minimum(frames, len(env) - 1)]
    picked: list[int] = []
    for f in frames[np.argsort(-strength)]:
        t = librosa.frames_to_samples(f)
        if all(abs(t - p) > min_gap * SR for p in picked) and t + seconds * SR < len(samples):
            picked.append(int(t))
        if len(picked) == count:
            break
    fade = np.linspace(1.0, 0.0, int(0.05 * SR))
    notes = []
    for t in sorted(picked):
        note = samples[t : t + int(seconds * SR)].astype(np.float64).copy()
        note[-len(fade):] *= fade
        notes.append(note / (np.abs(note).max() + 1e-9))
    return notes


@lru_cache(maxsize=1)
def sounds() -> dict[str, list[np.ndarray]]:
    return {
        "vibes": _cut_notes(_decode("Kevin_MacLeod_-_Vibe_Ace.ogg"), 0.45, 4, 0.5),
        "trumpet": _cut_notes(_decode("sorohanro_-_solo-trumpet-06.ogg"), 0.25, 4, 0.3),
        "strings": _cut_notes(_decode("Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg"), 0.6, 3, 1.0),
    }


def shifted(note: np.ndarray, semitones: float) -> np.ndarray:
    """The note `semitones` higher (resampled: shorter when higher, as on a tape)."""
    import soxr

    ratio = 2.0 ** (semitones / 12.0)
    return soxr.resample(note, SR * ratio, SR) if semitones else note


def kick(rng) -> np.ndarray:
    t = np.arange(int(0.25 * SR)) / SR
    return np.sin(2 * np.pi * (50 * t + 70 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 18)


def snare(rng) -> np.ndarray:
    t = np.arange(int(0.18 * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * 185 * t) + rng.normal(0, 0.6, len(t))) * np.exp(-t * 28)


def hat(rng) -> np.ndarray:
    from scipy.signal import butter, lfilter

    t = np.arange(int(0.05 * SR)) / SR
    b, a = butter(4, 5000 / (SR / 2), "high")
    return lfilter(b, a, rng.normal(0, 0.5, len(t))) * np.exp(-t * 90)


def _place(out: np.ndarray, sound: np.ndarray, at: float, gain: float) -> None:
    i = int(round(at * SR))
    if i >= len(out):
        return
    j = min(len(out), i + len(sound))
    out[i:j] += gain * sound[: j - i]


#: name -> (beats per bar, [(instrument, beat positions within the bar, gain)])
PATTERNS = {
    "rock": (4, [("kick", (0, 2), 0.9), ("snare", (1, 3), 0.6), ("hat", (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), 0.25),
                 ("vibes", (0, 1, 2, 3), 0.5)]),
    "halftime": (4, [("kick", (0,), 0.9), ("snare", (2,), 0.6), ("hat", (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), 0.25),
                     ("strings", (0, 2), 0.4)]),
    "waltz": (3, [("kick", (0,), 0.9), ("vibes", (1, 2), 0.5), ("hat", (0, 1, 2), 0.2)]),
    "melody": (4, [("trumpet", (0, 1, 2, 3), 0.7), ("vibes", (0, 2), 0.4)]),
    "sixteenths": (4, [("kick", (0, 1, 2, 3), 0.8), ("hat", tuple(i / 4 for i in range(16)), 0.2), ("trumpet", (0.5, 2.5), 0.5)]),
}


def groove(pattern: str, bpm: float, seconds: float = 24.0, seed: int = 0) -> Rendered:
    """A pattern at a known tempo: drums and real instrument notes on the beat grid."""
    rng = np.random.default_rng(seed)
    beats, parts = PATTERNS[pattern]
    out = np.zeros(int(seconds * SR))
    beat = 60.0 / bpm
    bank = sounds()
    drums = {"kick": kick, "snare": snare, "hat": hat}
    for bar_start in np.arange(0.0, seconds, beats * beat):
        for instrument, positions, gain in parts:
            for k, pos in enumerate(positions):
                if instrument in drums:
                    sound = drums[instrument](rng)
                else:
                    notes = bank[instrument]
                    sound = shifted(notes[k % len(notes)], float(rng.choice([0, 2, 3, 5, 7])))
                _place(out, sound, bar_start + pos * beat, gain * (1 + 0.1 * rng.normal()))
    return Rendered(f"{pattern} {bpm:g}", (0.3 * out / np.abs(out).max()).astype(np.float32), bpm=bpm)


def stretched_loop(rate: float, repeats: int = 4) -> Rendered:
    """The 90 bpm trumpet loop, time-stretched by `rate` (a real recording at 90 * rate bpm)."""
    import librosa

    loop = _decode("sorohanro_-_solo-trumpet-06.ogg")
    stretched = librosa.effects.time_stretch(loop, rate=rate) if rate != 1 else loop
    return Rendered(f"trumpet loop x{rate:g}", np.tile(stretched, repeats).astype(np.float32), bpm=90.0 * rate)


def tempo_set() -> list[Rendered]:
    out = [groove(p, bpm, seed=i) for i, (p, bpm) in enumerate([
        ("rock", 72), ("rock", 96), ("rock", 120), ("rock", 140), ("rock", 165),
        ("halftime", 70), ("halftime", 85), ("halftime", 150),
        ("waltz", 90), ("waltz", 150), ("waltz", 180),
        ("melody", 80), ("melody", 100), ("melody", 130),
        ("sixteenths", 100), ("sixteenths", 124), ("sixteenths", 174),
    ])]
    out += [stretched_loop(r) for r in (0.8, 1.0, 1.2, 1.4)]
    out += [Rendered("trumpet loop (one pass, 5.3 s)", _decode("sorohanro_-_solo-trumpet-06.ogg"), bpm=90.0)]
    return out


# -- energy and valence -----------------------------------------------------------------------

MAJOR_CHORDS = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]  # I IV V I
MINOR_CHORDS = [(0, 3, 7), (5, 8, 12), (7, 10, 14), (0, 3, 7)]  # i iv v i
MAJOR_MELODY = [0, 2, 4, 7, 9, 7, 4, 2]
MINOR_MELODY = [0, 2, 3, 7, 8, 7, 3, 2]


@lru_cache(maxsize=1)
def tuned_trumpet() -> list[np.ndarray]:
    """The trumpet notes, each retuned to middle C (its pitch measured with YIN), so that a
    melody's intervals are exact."""
    import librosa

    notes = []
    for note in sounds()["trumpet"]:
        f0 = float(np.median(librosa.yin(note.astype(np.float32), fmin=100, fmax=1200, sr=SR, frame_length=1024)))
        notes.append(shifted(note, 12 * np.log2(MIDDLE_C / f0)))
    return notes


def pad(semitones: float, seconds: float) -> np.ndarray:
    """A sustained harmonic tone `semitones` from middle C (six partials at 1/k, soft attack
    and release): a clean chord voice whose pitch is exactly known."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = MIDDLE_C * 2.0 ** (semitones / 12.0)
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 7) if k * f0 < SR / 2)
    envelope = np.minimum(1.0, t / 0.08) * np.minimum(1.0, (seconds - t) / 0.2)
    return tone * envelope


MIDDLE_C = 261.63


def piece(*, major: bool, bpm: float, register: int, loud: bool, dense: bool, bright: bool, seed: int = 0,
          seconds: float = 20.0) -> np.ndarray:
    """Chords (a harmonic pad) under a melody played with the real trumpet notes, with drums
    when dense and hi-hats when bright; darker pieces lose their top octaves."""
    rng = np.random.default_rng(seed)
    trumpet = tuned_trumpet()
    out = np.zeros(int(seconds * SR))
    beat = 60.0 / bpm
    chords = MAJOR_CHORDS if major else MINOR_CHORDS
    melody = MAJOR_MELODY if major else MINOR_MELODY
    t, bar = 0.0, 0
    while t < seconds:
        for note in chords[bar % len(chords)]:
            _place(out, pad(register + note - 12, 4 * beat), t, 0.12)
        steps = 8 if dense else 4
        for k in range(steps):
            pitch = register + melody[(bar * steps + k) % len(melody)]
            _place(out, shifted(trumpet[k % len(trumpet)], pitch), t + k * 4 * beat / steps, 0.5)
        if dense:
            for k in range(4):
                _place(out, kick(rng), t + k * beat, 0.8 if k % 2 == 0 else 0.0)
                _place(out, snare(rng), t + k * beat, 0.5 if k % 2 == 1 else 0.0)
        if bright:
            for k in range(8):
                _place(out, hat(rng), t + k * beat / 2, 0.2)
        t += 4 * beat
        bar += 1
    if not bright:  # darker: the top octaves filtered away
        from scipy.signal import butter, lfilter

        b, a = butter(2, 1500 / (SR / 2), "low")
        out = lfilter(b, a, out)
    peak = 0.9 if loud else 0.9 * 10 ** (-18 / 20)
    return (peak * out / np.abs(out).max()).astype(np.float32)


def mood_set() -> list[Rendered]:
    """Every combination of the cues, two seeds each (energy: loud, fast, dense, bright;
    valence: major, fast, high register)."""
    out = []
    for major in (True, False):
        for fast in (True, False):
            for high in (True, False):
                for loud in (True, False):
                    for dense in (True, False):
                        bright = dense
                        samples = piece(major=major, bpm=132 if fast else 66, register=5 if high else -7, loud=loud,
                                        dense=dense, bright=bright, seed=int(major) * 2 + int(fast))
                        name = (f"{'major' if major else 'minor'} {'fast' if fast else 'slow'} {'high' if high else 'low'} "
                                f"{'loud' if loud else 'soft'} {'dense' if dense else 'sparse'}")
                        out.append(Rendered(name, samples, bpm=132 if fast else 66,
                                            energy_cues=int(loud) + int(fast) + int(dense) + int(bright),
                                            valence_cues=int(major) + int(fast) + int(high)))
    return out
