"""Attributes from taggrams: documented formulas, calibrated to 0..1.

Each attribute contrasts tags for its high end against tags for its low end,
using the tags the backbone has (MSD or MTT):

    raw(segment) = mean(p_tag for tag in HIGH) - mean(p_tag for tag in LOW)
    attribute    = sigmoid(GAIN * raw)

energy also blends in loudness: 0.5 * sigmoid(GAIN * raw) + 0.5 * clip((rms_dB + 45) / 40, 0, 1),
computed per 3-second segment, averaged per 10-second tile, and summarised per
track by the peak of the tiles' moving average (temporal.peak_energy); its
consistency is temporal.consistency of the same tiles. Genre scores map the
seed paper's genre vocabulary onto MSD tags (the maximum of the mapped tags'
track-level probabilities). Tempo is librosa's beat tracker.
These are heuristics; trained heads (`attune train attributes`) replace them.
"""

from __future__ import annotations

import numpy as np

from . import temporal

GAIN = 8.0

ENERGY = {
    "MSD": (("party", "dance", "hard rock", "metal", "heavy metal", "punk", "electro", "House"),
            ("Mellow", "chill", "chillout", "easy listening", "ambient", "acoustic", "beautiful", "sad")),
    "MTT": (("loud", "fast", "drums", "beat", "beats", "techno", "metal", "rock", "dance"),
            ("quiet", "soft", "slow", "ambient", "classical", "new age", "piano", "harp", "flute")),
}
VALENCE = {
    "MSD": (("happy", "party", "catchy", "funk", "dance"), ("sad", "Mellow")),
}
VOCALNESS = {
    "MSD": (("female vocalists", "male vocalists", "female vocalist"), ("instrumental",)),
    "MTT": (("vocal", "vocals", "voice", "singing", "male", "female", "woman", "man", "male vocal", "female vocal",
             "male voice", "female voice", "choir"), ("no vocal", "no vocals", "no voice")),
}
GENRES = {
    "rock": ("rock", "alternative rock", "classic rock", "hard rock", "indie rock", "Progressive rock"),
    "pop": ("pop", "indie pop"),
    "metal": ("metal", "heavy metal"),
    "jazz": ("jazz",),
    "blues": ("blues",),
    "country": ("country",),
    "electronic": ("electronic", "electronica", "electro", "dance", "House"),
    "hip hop": ("Hip-Hop",),
    "r&b": ("rnb", "soul"),
    "folk": ("folk",),
    "punk": ("punk",),
    "funk": ("funk",),
    "indie": ("indie", "indie rock", "indie pop"),
    "ambient": ("ambient", "chillout"),
    "experimental": ("experimental",),
}
#: A genre whose score reaches this is listed in the track's genres (and matched by genre:).
GENRE_THRESHOLD = 0.25


def _contrast(taggram: np.ndarray, tags: tuple[str, ...], table: dict) -> np.ndarray | None:
    """sigmoid(GAIN * (mean high - mean low)) per segment, or None when the tags lack the words."""
    for _, (high, low) in ((k, v) for k, v in table.items()):
        hi = [tags.index(t) for t in high if t in tags]
        lo = [tags.index(t) for t in low if t in tags]
        if hi and lo:
            raw = taggram[:, hi].mean(axis=1) - taggram[:, lo].mean(axis=1)
            return 1.0 / (1.0 + np.exp(-GAIN * raw))
    return None


def segment_loudness(samples: np.ndarray, starts: np.ndarray, seconds: float, rate: int = 16000) -> np.ndarray:
    hop = int(round(seconds * rate))
    out = []
    for s in starts:
        x = samples[int(s * rate) : int(s * rate) + hop].astype(np.float64)
        out.append(20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-9) if len(x) else -180.0)
    return np.clip((np.asarray(out) + 45.0) / 40.0, 0.0, 1.0)


def track_attributes(taggram: np.ndarray, tags: tuple[str, ...], loudness: np.ndarray, starts: np.ndarray, duration: float) -> dict:
    """Track-level attributes and the energy tiles, from per-segment outputs."""
    tag_energy = _contrast(taggram, tags, ENERGY)
    segment_energy = loudness if tag_energy is None else 0.5 * tag_energy + 0.5 * loudness
    tiles = temporal.tiles(starts, segment_energy, duration)
    out = {
        "energy": temporal.peak_energy(tiles),
        "consistency": temporal.consistency(tiles),
        "energy_tiles": tiles.astype(np.float32).tolist(),
    }
    for name, table in (("valence", VALENCE), ("vocalness", VOCALNESS)):
        values = _contrast(taggram, tags, table)
        out[name] = None if values is None else float(values.mean())
    mean = taggram.mean(axis=0) if len(taggram) else np.zeros(len(tags))
    scores = {}
    for genre, mapped in GENRES.items():
        idx = [tags.index(t) for t in mapped if t in tags]
        if idx:
            scores[genre] = float(mean[idx].max())
    out["genre_scores"] = scores
    out["genres"] = [g for g, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s >= GENRE_THRESHOLD]
    return out


def tempo(samples: np.ndarray, rate: int = 16000) -> float | None:
    """Beats per minute from librosa's beat tracker (None for silence)."""
    import librosa

    if len(samples) < rate or not np.any(samples):
        return None
    onset = librosa.onset.onset_strength(y=samples, sr=rate, hop_length=512)
    bpm, _ = librosa.beat.beat_track(onset_envelope=onset, sr=rate, hop_length=512)
    value = float(np.atleast_1d(bpm)[0])
    return value if value > 0 else None
