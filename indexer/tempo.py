"""Tempo with an octave decision and a confidence.

1. Onset envelope: SuperFlux on musicnn's log-mel in dB (librosa's onset_strength with
   lag 2 and a 3-band maximum filter, which ignores vibrato), minus its 0.5-second moving
   average, clipped at 0: what is left are the attacks, not the swell of a held note.
   A clip shorter than LOOP_SECONDS is repeated to that length first (a loop played
   again, which is how a loop is heard).
2. Periodicity: the envelope's autocorrelation, normalised to 1 at lag 0, read at the lag
   of each tempo T on a 0.5-BPM grid from 30 to 300: s(T). A strong pulse gives s about
   0.3-0.6; a pulseless sound (speech, a whale, an ambient pad) stays near 0.
3. The tempo family: the best local maximum of s in MIN_BPM..MAX_BPM by
   s(T) + 0.5 s(T/2) + 0.5 s(2T) (a beat is supported by its bar and its subdivision).
4. The octave: among T/2, T, 2T (each moved to its nearest local maximum) and, for a
   triple feel, 2T/3 and 3T/2, the one that maximises

       o(T) = s(T) * prior(T) * density(T)
       prior(T)   = exp(-(log2(T / 110))^2 / 2)            (tempi near 110 BPM are the
                                                             most common; one octave sd)
       density(T) = exp(-(log2(onsets per beat / 2) / 1.5)^2 / 2)
                                                           (about two onsets per beat)

   A clip shorter than LOOP_SECONDS is taken for a loop: the tempi at which it holds 1, 2,
   4, 8 or 16 bars of 4/4 (the lengths loops are made in) join the candidates with their
   o doubled, so a loop's tempo is its exact length in bars when its pulse allows.
5. Confidence = clip(s(T) / 0.4, 0, 1) * o(T) / (o(T) + o(runner-up)): high when the pulse
   is clear and the octave is not in doubt. The alternative reported beside the tempo is
   the best candidate an octave away (half or double), else the runner-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import HOP, SAMPLE_RATE

FPS = SAMPLE_RATE / HOP
MIN_BPM, MAX_BPM = 40.0, 240.0
PREFERRED_BPM = 110.0
LOOP_SECONDS = 20.0
GRID = np.arange(30.0, 300.5, 0.5)
#: The least rise of the onset envelope (dB, mean over mel bands) that counts as an onset.
ONSET_FLOOR = 0.3


@dataclass(frozen=True)
class Tempo:
    bpm: float | None
    confidence: float
    alternative: float | None  # the runner-up (usually the other octave)
    pulse: float = 0.0  # clip(s(T) / 0.4, 0, 1): how clearly the music has a beat at all


def onset_envelope(spectrogram: np.ndarray) -> np.ndarray:
    """SuperFlux onset strength of musicnn's log-mel (frames,), detrended (step 1)."""
    import librosa
    from scipy.ndimage import uniform_filter1d

    if len(spectrogram) < 4:
        return np.zeros(len(spectrogram))
    power = np.maximum((10.0 ** spectrogram.astype(np.float64) - 1.0) / 10000.0, 0.0)
    db = librosa.power_to_db(power.T, ref=1.0, top_db=None)
    env = librosa.onset.onset_strength(S=db, sr=SAMPLE_RATE, hop_length=HOP, lag=2, max_size=3)
    return np.maximum(env - uniform_filter1d(env, size=int(FPS * 0.5), mode="nearest"), 0.0)


def estimate(spectrogram: np.ndarray, *, duration: float | None = None, onsets_per_second: float | None = None,
             envelope: np.ndarray | None = None) -> Tempo:
    """The tempo of a track from its log-mel spectrogram (see the module docstring);
    `duration` in seconds (default: from the frame count), `envelope` when already computed."""
    env = onset_envelope(spectrogram) if envelope is None else envelope
    duration = (len(spectrogram) - 1) / FPS if duration is None else duration
    if duration < 1.0 or not env.any():
        return Tempo(None, 0.0, None)
    if duration < LOOP_SECONDS:
        env = np.tile(env, int(np.ceil(LOOP_SECONDS / duration)))
    centred = env - env.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(centred))))  # the autocorrelation by FFT, without wrap-around
    ac = np.fft.irfft(np.abs(np.fft.rfft(centred, size)) ** 2, size)[: int(FPS * 4) + 2]
    if ac[0] <= 0:
        return Tempo(None, 0.0, None)
    ac = ac / ac[0]
    s = np.interp(60.0 * FPS / GRID, np.arange(len(ac)), ac, right=0.0)

    def at(bpm: float) -> float:
        return float(np.interp(bpm, GRID, s)) if GRID[0] <= bpm <= GRID[-1] else 0.0

    peaks = [i for i in range(1, len(GRID) - 1) if s[i] >= s[i - 1] and s[i] >= s[i + 1] and MIN_BPM <= GRID[i] <= MAX_BPM]
    if not peaks:
        return Tempo(None, 0.0, None)
    support = [at(GRID[i]) + 0.5 * at(GRID[i] / 2) + 0.5 * at(GRID[i] * 2) for i in peaks]
    best = float(GRID[peaks[int(np.argmax(support))]])

    def nearest_peak(bpm: float) -> float:
        close = [GRID[i] for i in peaks if abs(np.log2(GRID[i] / bpm)) < 0.06]
        return float(min(close, key=lambda b: abs(np.log2(b / bpm)))) if close else bpm

    rate = onsets_per_second if onsets_per_second is not None else _onset_rate(env)

    def score(bpm: float) -> float:
        return max(at(bpm), 1e-3) * _prior(bpm) * _density(rate, bpm)

    candidates: dict[float, float] = {}
    for factor in (0.5, 1.0, 2.0, 2.0 / 3.0, 1.5):
        bpm = nearest_peak(best * factor)
        if MIN_BPM <= bpm <= MAX_BPM:
            candidates[round(bpm, 2)] = max(score(bpm), candidates.get(round(bpm, 2), 0.0))
    if duration < LOOP_SECONDS:  # a loop: its length is a whole number of bars
        for bpm in loop_tempi(duration):
            candidates[round(bpm, 2)] = 2.0 * score(bpm)
    ranked = sorted(candidates.items(), key=lambda kv: -kv[1])
    bpm, top = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else (None, 0.0)
    octave = [kv for kv in ranked[1:] if min(abs(np.log2(kv[0] / bpm) - 1), abs(np.log2(kv[0] / bpm) + 1)) < 0.06]
    pulse = float(np.clip(at(bpm) / 0.4, 0.0, 1.0))
    confidence = pulse * top / (top + runner[1]) if top > 0 else 0.0
    alternative = octave[0][0] if octave else runner[0]
    return Tempo(float(bpm), float(round(confidence, 3)), None if alternative is None else float(alternative), round(pulse, 3))


def _prior(bpm: float) -> float:
    return float(np.exp(-0.5 * np.log2(bpm / PREFERRED_BPM) ** 2))


def _density(onsets_per_second: float, bpm: float) -> float:
    if onsets_per_second <= 0:
        return 1.0
    per_beat = onsets_per_second * 60.0 / bpm
    return float(np.exp(-0.5 * (np.log2(per_beat / 2.0) / 1.5) ** 2))


def loop_tempi(duration: float) -> list[float]:
    """The tempi at which a clip of `duration` seconds holds 1, 2, 4, 8 or 16 bars of 4/4
    (the lengths loops come in), within MIN_BPM..MAX_BPM."""
    return [240.0 * bars / duration for bars in (1, 2, 4, 8, 16) if MIN_BPM <= 240.0 * bars / duration <= MAX_BPM]


def onset_frames(env: np.ndarray) -> np.ndarray:
    """Onsets of a detrended envelope: local peaks (30 ms either side) that rise above their
    surroundings by 2% of the envelope's 99th percentile, and by at least ONSET_FLOOR dB
    (so that a near-silent passage is not made busy by the relative threshold)."""
    import librosa

    if not env.any():
        return np.zeros(0, dtype=int)
    w = max(1, int(round(0.03 * FPS)))
    delta = max(float(0.02 * np.percentile(env, 99)), ONSET_FLOOR)
    return librosa.util.peak_pick(env.astype(np.float64), pre_max=w, post_max=w, pre_avg=w, post_avg=w, delta=delta, wait=w)


def _onset_rate(env: np.ndarray) -> float:
    return len(onset_frames(env)) / (len(env) / FPS) if len(env) else 0.0
