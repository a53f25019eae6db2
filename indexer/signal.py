"""Signal measures that track what listeners hear as intensity, mood and pulse.

Computed from the decoded 16 kHz samples and musicnn's log-mel spectrogram (which the
indexer has anyway: `audio.log_mel`, 96 Slaney mel bands up to 8 kHz, 16 ms frames),
per 3-second segment unless said otherwise. Each function states the measure it computes.

- loudness:   short-term loudness in LUFS (ITU-R BS.1770-4 K-weighting, EBU Tech 3341's
              3-second window, ungated): L = -0.691 + 10 log10(mean(y_K^2)).
- flux:       spectral flux: the mean of the detrended SuperFlux onset envelope
              (`tempo.onset_envelope`: the mean rise of the mel bands in dB, minus its
              half-second moving average).
- onsets:     onsets per second: peaks of that envelope (`tempo.onset_frames`).
- brightness: spectral centroid (magnitude-weighted mean of the mel bands' centre
              frequencies) per frame, power-weighted over the segment's frames, in Hz.
- key:        from a chroma of the whole track, the correlation with the Krumhansl-Kessler
              major and minor key profiles in all 12 keys: `mode` = best major r - best minor
              r (> 0: major), `clarity` = the best r of either (how tonal the track is).
- consonance: per frame, the four strongest pitch classes' pairwise interval dissonance
              (semitone and major seventh 1, tritone 0.8, whole tone and minor seventh 0.5,
              thirds and sixths 0.1, fourths and fifths 0), averaged over frames weighted by
              level; 1 - that / the dissonance of a four-semitone cluster.
- tempo:      `tempo.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import HOP, SAMPLE_RATE

#: Krumhansl & Kessler (1982) key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
#: Dissonance of an interval of k semitones (k = 0..11; symmetric: k and 12 - k alike).
INTERVAL_DISSONANCE = np.array([0.0, 1.0, 0.5, 0.1, 0.1, 0.0, 0.8, 0.0, 0.1, 0.1, 0.5, 1.0])
#: Pitch classes per frame that count for consonance.
TOP_PITCHES = 4
#: The dissonance of four equal adjacent semitones: 2 * (3 x 1 + 2 x 0.5 + 0.1) / 16.
CLUSTER_DISSONANCE = 2 * (3 * 1.0 + 2 * 0.5 + 0.1) / 16


@dataclass
class SegmentMeasures:
    """One value per segment (arrays) and per track (floats)."""

    loudness: np.ndarray  # LUFS
    flux: np.ndarray
    onsets: np.ndarray  # per second
    brightness: np.ndarray  # Hz
    mode: float
    clarity: float
    consonance: float


def k_weighted(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The K-weighted signal of BS.1770-4 (a high shelf, then a high pass), with pyloudnorm's filters."""
    from pyloudnorm.iirfilter import IIRfilter
    from scipy.signal import lfilter

    y = np.asarray(samples, dtype=np.float64)
    for stage in (IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf"), IIRfilter(0.0, 0.5, 38.0, rate, "high_pass")):
        y = lfilter(stage.b, stage.a, y)
    return y


def short_term_loudness(samples: np.ndarray, starts: np.ndarray, seconds: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """LUFS of each segment [start, start + seconds): -0.691 + 10 log10(mean square of the K-weighted signal)."""
    y = k_weighted(samples, rate)
    hop = int(round(seconds * rate))
    out = np.empty(len(starts))
    for i, s in enumerate(starts):
        block = y[int(s * rate) : int(s * rate) + hop]
        power = float(np.mean(block * block)) if len(block) else 0.0
        out[i] = -0.691 + 10.0 * np.log10(power) if power > 1e-12 else -120.0
    return out


def centroid_per_frame(spectrogram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(spectral centroid in Hz, power) per frame of musicnn's log-mel (undoing its
    log10(10000 x + 1)): the magnitude-weighted mean of the mel bands' centre frequencies."""
    import librosa

    power = np.maximum((10.0 ** spectrogram.astype(np.float64) - 1.0) / 10000.0, 0.0)
    magnitude = np.sqrt(power)
    freqs = librosa.mel_frequencies(n_mels=spectrogram.shape[1] + 2, fmax=SAMPLE_RATE / 2)[1:-1]
    centroid = (magnitude @ freqs) / np.maximum(magnitude.sum(axis=1), 1e-12)
    return centroid, power.sum(axis=1)


def key_measures(samples: np.ndarray, rate: int = SAMPLE_RATE) -> tuple[float, float, float]:
    """(mode, clarity, consonance) of the whole track from its chroma (see the module docstring)."""
    import librosa

    if len(samples) < rate // 2 or not np.any(samples):
        return 0.0, 0.0, 0.5
    chroma = librosa.feature.chroma_stft(y=np.asarray(samples, dtype=np.float32), sr=rate, n_fft=4096, hop_length=2048,
                                         norm=None, tuning=0.0)
    level = chroma.sum(axis=0)
    if level.max() <= 0:
        return 0.0, 0.0, 0.5
    profile = chroma.sum(axis=1)
    profile = profile / profile.sum()
    major = max(_corr(profile, np.roll(MAJOR_PROFILE, k)) for k in range(12))
    minor = max(_corr(profile, np.roll(MINOR_PROFILE, k)) for k in range(12))
    # consonance: per frame, the four strongest pitch classes (a chord and its colour; the rest
    # of a chroma is leakage and noise), level-normalised, and their pairwise interval dissonance
    top = np.argsort(chroma, axis=0)[-TOP_PITCHES:]
    kept = np.zeros_like(chroma)
    np.put_along_axis(kept, top, np.take_along_axis(chroma, top, axis=0), axis=0)
    frames = kept / np.maximum(kept.sum(axis=0), 1e-12)
    dissonance = np.zeros(chroma.shape[1])
    for k in range(1, 12):
        dissonance += INTERVAL_DISSONANCE[k] * (frames * np.roll(frames, -k, axis=0)).sum(axis=0)
    # 0 for one pitch, a fifth or a triad; 1 for four equal adjacent semitones (a cluster)
    consonance = 1.0 - float(np.average(dissonance, weights=level) / CLUSTER_DISSONANCE)
    return float(major - minor), float(max(major, minor)), float(np.clip(consonance, 0.0, 1.0))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def measure(samples: np.ndarray, spectrogram: np.ndarray, starts: np.ndarray, seconds: float,
            envelope: np.ndarray | None = None) -> SegmentMeasures:
    """Every measure of the module docstring, per segment of `seconds` starting at `starts`
    (`envelope`: tempo.onset_envelope(spectrogram), when already computed)."""
    from .tempo import onset_envelope, onset_frames

    fps = SAMPLE_RATE / HOP
    env = onset_envelope(spectrogram) if envelope is None else envelope
    peaks = onset_frames(env)
    centroid, power = centroid_per_frame(spectrogram)
    n = len(starts)
    flux, onsets, brightness = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, s in enumerate(starts):
        lo, hi = int(round(s * fps)), min(int(round((s + seconds) * fps)), len(spectrogram))
        if hi <= lo:
            continue
        flux[i] = float(env[lo:hi].mean())
        onsets[i] = float(((peaks >= lo) & (peaks < hi)).sum()) / seconds
        weights = power[lo:hi]
        brightness[i] = float(np.average(centroid[lo:hi], weights=weights)) if weights.sum() > 0 else 0.0
    mode, clarity, consonance = key_measures(samples)
    return SegmentMeasures(short_term_loudness(samples, starts, seconds), flux, onsets, brightness, mode, clarity, consonance)
