"""Attributes from the backbone's tags and the signal: documented formulas, 0..1, each with
a confidence.

Every attribute is the logistic of a sum of *cues*, each cue a term in logits that is 0 at
an ordinary value and says which way it pushes and how hard. The cues are the ones
listening studies find listeners use (Gabrielsson & Lindstrom 2010; Eerola, Friberg &
Bresin 2013, who varied one cue at a time); the reference points are those of
commercially released music; the weights put a typical range of each cue at about one
logit, and loudness (the cue listeners lean on most for intensity) at about two.

Energy (intensity and activity), per 3-second segment s, then the seed's eq. 1 over
10-second tiles (temporal.py):

    z_energy(s) = 0.18 (L_s + 14)                           loudness, LUFS (BS.1770)
                + 0.4 music clip(log2(onsets_s / 3), -2, 2) onsets per second
                + 0.8 clip(log2(centroid_s / 800), -2, 2)   brightness, Hz
                + 0.6 log2(tempo / 110) * tempo confidence  faster is more active
                + 0.8 (pulse - 0.5)                         a clear beat drives
                + 0.5 music tags_s                          the tags' evidence
                + 0.3
    energy(s)   = sigmoid(z_energy(s))

where tags_s = 8 (mean p(high tags) - mean p(low tags)) over ENERGY's
tags (party, hard rock, metal ... against mellow, chill, easy listening, ambient: words for
arousal, not for instruments or mood), and music = max(tonality, pulse) says how far the
sound is music at all (tonality = clip((key clarity - 0.3) / 0.4, 0, 1)): the syllables of
speech or the clicks of a field recording are not notes, and tags of sounds the backbone
never learnt are guesses, so both count less there. Loudness per segment
is why a quiet intro and a loud chorus differ, and why the humpback whale (-34 LUFS, no
beat, dark) reads low however the tags vote.

Valence (how positive the music sounds), per track:

    z_valence = 4.0 mode * tonal                            major (> 0) or minor key
              + 0.8 log2(tempo / 110) * tempo confidence    faster is happier
              + 0.6 clip(log2(centroid / 800), -2, 2)       higher register and brighter
              + 1.5 (consonance - 0.6)                      consonant harmony
              + 0.5 tags                                    8 (mean p(happy, party ...) - mean p(sad, mellow))
    valence   = sigmoid(z_valence)

with mode = best major-key r - best minor-key r of the chroma (Krumhansl-Kessler profiles),
tonal = clip((key clarity - 0.3) / 0.4, 0, 1) (a mode means little in speech or noise),
centroid the median of the segments' and consonance from signal.py. Mode weighs most,
as in every study of mode and valence; the sum spreads a varied library over most of 0..1.

Vocalness: sigmoid(8 (mean p(vocal tags) - mean p(instrumental tags))) per segment,
averaged (the backbone's tags are good at this).

Tempo: tempo.py (an octave decision, a confidence and the other octave as an alternative).

Confidence, 0..1, for each attribute:
- energy:    (0.5 + 0.5 agreement) * coverage, where agreement = |sum of cues| / sum of
             |cues| per segment, averaged (1 when every cue points the same way, 0 when they
             cancel), and coverage = min(1, duration / 10 s).
- valence:   (0.4 + 0.6 tonal) * (0.5 + 0.5 agreement) * coverage.
- vocalness: sqrt(mean over segments of |2 v(s) - 1|): how sure the tags are either way.
- tempo:     the tempo estimator's confidence (pulse clarity x octave certainty).
Values with a confidence below LOW_CONFIDENCE are marked as guesses where shown.

Genre scores map the seed paper's genre vocabulary onto MSD tags (the maximum of the
mapped tags' track-level probabilities). Trained heads (`attune train attributes`)
replace energy, valence and vocalness when they exist.
"""

from __future__ import annotations

import numpy as np
from attune.engine.ingest.energy import energy_shape

from . import temporal
from .signal import SegmentMeasures
from .tempo import Tempo

GAIN = 8.0
#: A value whose confidence is below this is shown as a guess ("?") rather than a fact.
LOW_CONFIDENCE = 0.4

#: Reference points: a cue at its reference adds nothing.
REFERENCE_LUFS = -14.0
REFERENCE_ONSETS = 3.0
REFERENCE_CENTROID = 800.0
REFERENCE_TEMPO = 110.0

ENERGY_WEIGHTS = {"loudness": 0.18, "onsets": 0.4, "brightness": 0.8, "tempo": 0.6, "pulse": 0.8, "tags": 0.5}
ENERGY_BIAS = 0.3
VALENCE_WEIGHTS = {"mode": 4.0, "tempo": 0.8, "brightness": 0.6, "consonance": 1.5, "tags": 0.5}

ENERGY = {
    "MSD": (("party", "dance", "hard rock", "metal", "heavy metal", "punk", "electro", "House"),
            ("Mellow", "chill", "chillout", "easy listening", "ambient")),
    "MTT": (("loud", "fast", "drums", "beat", "beats", "techno", "metal", "rock", "dance"),
            ("quiet", "soft", "slow", "ambient", "classical", "new age", "piano", "harp", "flute")),
}
#: The MTT tags have no mood words; MTT backbones' valence rests on the signal alone.
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


def _indices(tags: tuple[str, ...], table: dict) -> tuple[list[int], list[int]] | None:
    """The high and low tags' positions for the first vocabulary the backbone has."""
    for high, low in table.values():
        hi = [tags.index(t) for t in high if t in tags]
        lo = [tags.index(t) for t in low if t in tags]
        if hi and lo:
            return hi, lo
    return None


def tag_evidence(taggram: np.ndarray, tags: tuple[str, ...], table: dict) -> np.ndarray:
    """GAIN (mean p(high tags) - mean p(low tags)) per segment, in logits (0 without the
    tags): evidence in proportion to the probability the tags carry, so that a sound the
    backbone has no confident tags for (two tiny probabilities) gets none."""
    found = _indices(tags, table)
    if found is None or not len(taggram):
        return np.zeros(len(taggram))
    hi, lo = found
    return GAIN * (taggram[:, hi].mean(axis=1) - taggram[:, lo].mean(axis=1))


def _contrast(taggram: np.ndarray, tags: tuple[str, ...], table: dict) -> np.ndarray | None:
    """sigmoid(GAIN * (mean high - mean low)) per segment, or None when the tags lack the words."""
    found = _indices(tags, table)
    if found is None:
        return None
    hi, lo = found
    raw = taggram[:, hi].mean(axis=1) - taggram[:, lo].mean(axis=1)
    return 1.0 / (1.0 + np.exp(-GAIN * raw))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def _log2_clipped(values, reference: float) -> np.ndarray:
    return np.clip(np.log2(np.maximum(np.asarray(values, dtype=np.float64), 1e-3) / reference), -2.0, 2.0)


def _tempo_cue(tempo: Tempo) -> float:
    return float(np.log2(tempo.bpm / REFERENCE_TEMPO) * tempo.confidence) if tempo.bpm else 0.0


def _agreement(cues: np.ndarray) -> np.ndarray:
    """|sum| / sum of |.| over the cues (last axis): 1 when all push the same way."""
    total = np.abs(cues).sum(axis=-1)
    return np.where(total > 0, np.abs(cues.sum(axis=-1)) / np.maximum(total, 1e-12), 0.0)


def energy_cues(taggram: np.ndarray, tags: tuple[str, ...], m: SegmentMeasures, tempo: Tempo) -> np.ndarray:
    """(segments, 6) cue terms in logits: loudness, onsets, brightness, tempo, pulse, tags."""
    w = ENERGY_WEIGHTS
    n = len(m.loudness)
    music = musicality(m, tempo)
    return np.column_stack([
        w["loudness"] * (np.maximum(m.loudness, -70.0) - REFERENCE_LUFS),
        w["onsets"] * music * _log2_clipped(np.maximum(m.onsets, 0.25), REFERENCE_ONSETS),
        w["brightness"] * _log2_clipped(np.maximum(m.brightness, 50.0), REFERENCE_CENTROID),
        np.full(n, w["tempo"] * _tempo_cue(tempo)),
        np.full(n, w["pulse"] * (tempo.pulse - 0.5)),
        w["tags"] * music * tag_evidence(taggram, tags, ENERGY) if len(taggram) else np.zeros(n),
    ])


def tonality(m: SegmentMeasures) -> float:
    """clip((key clarity - 0.3) / 0.4, 0, 1): 1 for music in a key, about 0 for noise."""
    return float(np.clip((m.clarity - 0.3) / 0.4, 0.0, 1.0))


def musicality(m: SegmentMeasures, tempo: Tempo) -> float:
    """max(tonality, pulse): how far the sound is music (in a key, or on a beat) rather than
    speech, a field recording or noise, whose onsets are not notes and whose tags are guesses."""
    return max(tonality(m), tempo.pulse)


def valence_cues(taggram: np.ndarray, tags: tuple[str, ...], m: SegmentMeasures, tempo: Tempo) -> tuple[np.ndarray, float]:
    """(5,) cue terms in logits (mode, tempo, brightness, consonance, tags) and tonality 0..1."""
    w = VALENCE_WEIGHTS
    tonal = tonality(m)
    centroid = float(np.median(m.brightness)) if len(m.brightness) else REFERENCE_CENTROID
    tag = float(np.mean(tag_evidence(taggram, tags, VALENCE))) if len(taggram) else 0.0
    return np.array([
        w["mode"] * m.mode * tonal,
        w["tempo"] * _tempo_cue(tempo),
        w["brightness"] * float(_log2_clipped(max(centroid, 50.0), REFERENCE_CENTROID)),
        w["consonance"] * (m.consonance - 0.6),
        w["tags"] * tag,
    ]), tonal


def track_attributes(taggram: np.ndarray, tags: tuple[str, ...], measures: SegmentMeasures, tempo: Tempo,
                     starts: np.ndarray, duration: float) -> dict:
    """Track-level attributes, their confidences and the energy tiles, from per-segment outputs."""
    coverage = min(1.0, duration / temporal.TILE_SECONDS)
    cues = energy_cues(taggram, tags, measures, tempo)
    segment_energy = _sigmoid(cues.sum(axis=1) + ENERGY_BIAS)
    tiles = temporal.tiles(starts, segment_energy, duration)
    v_cues, tonal = valence_cues(taggram, tags, measures, tempo)
    out = {
        "energy": temporal.peak_energy(tiles),
        "energy_confidence": float((0.5 + 0.5 * _agreement(cues).mean()) * coverage) if len(cues) else 0.0,
        "consistency": temporal.consistency(tiles),
        "energy_tiles": tiles.astype(np.float32).tolist(),
        **energy_shape(tiles),
        "valence": float(_sigmoid(v_cues.sum())),
        "valence_confidence": float((0.4 + 0.6 * tonal) * (0.5 + 0.5 * _agreement(v_cues)) * coverage),
        "tempo": tempo.bpm,
        "tempo_confidence": tempo.confidence,
        "tempo_alternative": tempo.alternative,
    }
    vocal = _contrast(taggram, tags, VOCALNESS)
    if vocal is None or not len(vocal):
        out["vocalness"], out["vocalness_confidence"] = None, None
    else:
        out["vocalness"] = float(vocal.mean())
        out["vocalness_confidence"] = float(np.sqrt(np.mean(np.abs(2.0 * vocal - 1.0))))
    mean = taggram.mean(axis=0) if len(taggram) else np.zeros(len(tags))
    scores = {}
    for genre, mapped in GENRES.items():
        idx = [tags.index(t) for t in mapped if t in tags]
        if idx:
            scores[genre] = float(mean[idx].max())
    out["genre_scores"] = scores
    out["genres"] = [g for g, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s >= GENRE_THRESHOLD]
    return out


def describe(samples: np.ndarray, spectrogram: np.ndarray, segments, tags: tuple[str, ...], seconds: float,
             duration: float) -> dict:
    """Everything above for one decoded track: the signal measures, the tempo and the attributes
    (`segments`: the backbone's output for `spectrogram`)."""
    from .signal import measure
    from .tempo import estimate, onset_envelope

    envelope = onset_envelope(spectrogram)
    measures = measure(samples, spectrogram, segments.starts, seconds, envelope)
    rate = float(np.mean(measures.onsets)) if len(measures.onsets) else None
    tempo = estimate(spectrogram, duration=duration, onsets_per_second=rate, envelope=envelope)
    return track_attributes(segments.taggram, tags, measures, tempo, segments.starts, duration)
