"""Signal measures, tempo and the attribute formulas, on generated sound (no model weights)."""

import numpy as np
import pytest
from attune.indexer import attributes, signal, tempo
from attune.indexer.audio import log_mel

from .labelled import AUDIO, MIDDLE_C, SR, groove, pad

rng = np.random.default_rng(0)


def sine(freq: float, seconds: float, amplitude: float) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def chords(progression, seconds_each: float = 1.0) -> np.ndarray:
    return np.concatenate([sum(pad(n, seconds_each) for n in chord) for chord in progression]).astype(np.float32) * 0.1


MAJOR = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)] * 3
MINOR = [(0, 3, 7), (5, 8, 12), (7, 10, 14), (0, 3, 7)] * 3


def test_loudness_is_bs1770():
    """A 997 Hz sine of amplitude 0.1 is -23.0 LUFS (-3.01 LUFS at full scale, K-weighting
    flat there); halving the amplitude takes 6.02 LU off."""
    x = sine(997.0, 6.0, 0.1)
    starts = np.array([0.0, 3.0])
    assert signal.short_term_loudness(x, starts, 3.0) == pytest.approx([-23.0, -23.0], abs=0.2)
    assert signal.short_term_loudness(x / 2, starts, 3.0) == pytest.approx([-29.02, -29.02], abs=0.2)
    assert signal.short_term_loudness(np.zeros(SR * 3, np.float32), starts[:1], 3.0)[0] == -120.0


def test_brightness_follows_the_spectrum():
    low, high = (signal.centroid_per_frame(log_mel(sine(f, 2.0, 0.3)))[0] for f in (300.0, 2000.0))
    assert np.median(low) == pytest.approx(300.0, rel=0.2)
    assert np.median(high) == pytest.approx(2000.0, rel=0.2)


def test_mode_clarity_and_consonance():
    major = signal.key_measures(chords(MAJOR))
    minor = signal.key_measures(chords(MINOR))
    noise = signal.key_measures(rng.normal(0, 0.1, SR * 6).astype(np.float32))
    cluster = signal.key_measures(sum(pad(k, 4.0) for k in range(4)).astype(np.float32) * 0.1)
    assert major[0] > 0.05 > -0.05 > minor[0]
    assert min(major[1], minor[1]) > 0.6 > 0.4 > noise[1]
    assert major[2] > 0.6 > 0.2 > cluster[2]


@pytest.mark.parametrize(("pattern", "bpm"), [("rock", 96), ("rock", 140), ("halftime", 85), ("waltz", 150),
                                              ("melody", 100), ("sixteenths", 124)])
def test_tempo_of_grooves_at_known_bpm(pattern, bpm):
    piece = groove(pattern, bpm)
    estimate = tempo.estimate(log_mel(piece.samples), duration=len(piece.samples) / SR)
    assert estimate.bpm == pytest.approx(bpm, rel=0.04)
    assert estimate.confidence > 0.4 and estimate.pulse > 0.5
    assert estimate.alternative == pytest.approx(bpm / 2, rel=0.04) or estimate.alternative == pytest.approx(bpm * 2, rel=0.04)


def test_no_beat_means_no_confidence():
    estimate = tempo.estimate(log_mel(rng.normal(0, 0.1, SR * 20).astype(np.float32)))
    assert estimate.confidence < attributes.LOW_CONFIDENCE and estimate.pulse < 0.3
    assert tempo.estimate(log_mel(np.zeros(SR * 5, np.float32))).bpm is None


def test_a_loop_reads_at_its_length_in_bars():
    """The 5.33-second trumpet loop recorded at 90 bpm: 90 (or 180 with 90 beside it)."""
    from attune.indexer.audio import decode

    loop = decode(AUDIO / "sorohanro_-_solo-trumpet-06.ogg")
    estimate = tempo.estimate(log_mel(loop.samples), duration=loop.duration)
    assert estimate.bpm == pytest.approx(90.0, rel=0.02) or (
        estimate.bpm == pytest.approx(180.0, rel=0.02) and estimate.alternative == pytest.approx(90.0, rel=0.02))
    assert tempo.loop_tempi(loop.duration)[:2] == pytest.approx([45.0, 90.0], rel=0.01)


def _describe(samples: np.ndarray) -> dict:
    """The zero-shot attributes of generated audio with no tags (as for a backbone without them)."""
    from attune.indexer.audio import patches
    from attune.indexer.backbones import Segments

    spec = log_mel(samples)
    _, starts = patches(spec)
    segments = Segments(starts, np.zeros((len(starts), 1), np.float32), np.zeros((len(starts), 0), np.float32))
    return attributes.describe(samples, spec, segments, (), 2.992, len(samples) / SR)


def test_energy_rises_with_loudness_and_activity():
    busy = groove("sixteenths", 150, seconds=20).samples * 3.0  # peaks at 0.9, as mastered music does
    quiet = (pad(0, 20.0) * 0.01).astype(np.float32)
    loud, soft = _describe(busy), _describe(busy * 0.1)
    calm = _describe(quiet)
    assert loud["energy"] > soft["energy"] > calm["energy"]
    assert loud["energy"] - soft["energy"] > 0.2
    assert 0.0 <= calm["energy"] and loud["energy"] <= 1.0


def test_valence_follows_mode_and_is_spread():
    major, minor = _describe(chords(MAJOR, 2.0)), _describe(chords(MINOR, 2.0))
    assert major["valence"] - minor["valence"] > 0.2
    assert major["valence_confidence"] > attributes.LOW_CONFIDENCE


def test_confidences_are_reported_and_short_clips_are_doubted():
    full = _describe(groove("rock", 120).samples)
    short = _describe(groove("rock", 120, seconds=4.0).samples)
    for name in ("energy", "valence", "tempo"):
        assert 0.0 <= full[f"{name}_confidence"] <= 1.0
    assert short["energy_confidence"] < full["energy_confidence"]
    assert full["tempo"] == pytest.approx(120, rel=0.04) and full["tempo_confidence"] > attributes.LOW_CONFIDENCE
    assert full["vocalness"] is None  # no tags to tell


def test_cue_terms_are_documented_in_logits():
    """Each cue is 0 at its reference point: a sound at every reference gets only the bias."""
    m = signal.SegmentMeasures(np.array([attributes.REFERENCE_LUFS]), np.zeros(1), np.array([attributes.REFERENCE_ONSETS]),
                               np.array([attributes.REFERENCE_CENTROID]), 0.0, 1.0, 0.6)
    t = tempo.Tempo(attributes.REFERENCE_TEMPO, 1.0, None, pulse=0.5)
    assert attributes.energy_cues(np.zeros((1, 0)), (), m, t) == pytest.approx(np.zeros((1, 6)))
    cues, tonal = attributes.valence_cues(np.zeros((1, 0)), (), m, t)
    assert cues == pytest.approx(np.zeros(5)) and tonal == 1.0
    assert MIDDLE_C == pytest.approx(261.63)
