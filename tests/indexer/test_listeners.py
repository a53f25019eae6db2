"""Energy, valence and tempo as a person hears them: the openly licensed recordings of
examples/audio and the labelled pieces of labelled.py, indexed with msd-musicnn."""

from functools import lru_cache

import numpy as np
import pytest
from attune.indexer.attributes import LOW_CONFIDENCE
from scipy.stats import spearmanr

from .labelled import AUDIO, SR, mood_set, tempo_set

pytestmark = pytest.mark.slow

RECORDINGS = {
    "whale": "glacier-bay-humpback.ogg",
    "speech": "198-209-0000.ogg",
    "orchestra": "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "folk band": "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "electronic": "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "jazz": "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "trumpet loop": "sorohanro_-_solo-trumpet-06.ogg",
}


@pytest.fixture(scope="module")
def heard(models_dir) -> dict[str, dict]:
    from attune.indexer.backbones import load_backbone
    from attune.indexer.pipeline import process_file

    model = load_backbone("msd-musicnn")
    missing = [f for f in RECORDINGS.values() if not (AUDIO / f).exists()]
    assert not missing, f"examples/audio lacks {missing}"
    return {name: process_file(str(AUDIO / f), model).track for name, f in RECORDINGS.items()}


def test_energy_ranks_whale_and_speech_below_music(heard):
    quiet = max(heard["whale"]["energy"], heard["speech"]["energy"])
    for name in ("orchestra", "folk band", "electronic"):
        assert heard[name]["energy"] > quiet + 0.05, (name, {k: round(v["energy"], 2) for k, v in heard.items()})


def test_valence_spans_the_range(heard):
    valence = [row["valence"] for row in heard.values()]
    assert max(valence) - min(valence) >= 0.3, valence
    assert heard["folk band"]["valence"] > heard["whale"]["valence"]  # a happy sung folk song, a lone whale


def test_trumpet_loop_reads_90(heard):
    row = heard["trumpet loop"]
    assert row["tempo"] == pytest.approx(90, rel=0.02) or (
        row["tempo"] == pytest.approx(180, rel=0.02) and row["tempo_alternative"] == pytest.approx(90, rel=0.02))


def test_confidences_mark_what_is_not_music(heard):
    assert heard["whale"]["tempo_confidence"] < LOW_CONFIDENCE  # no beat to count
    assert heard["speech"]["tempo_confidence"] < LOW_CONFIDENCE
    assert heard["speech"]["valence_confidence"] < heard["electronic"]["valence_confidence"]  # no key in speech
    for row in heard.values():
        for name in ("energy", "valence", "vocalness", "tempo"):
            assert 0.0 <= row[f"{name}_confidence"] <= 1.0


def test_vocalness_still_orders_voices(heard):
    assert heard["folk band"]["vocalness"] > heard["orchestra"]["vocalness"]
    assert heard["speech"]["vocalness"] > heard["orchestra"]["vocalness"]


@lru_cache(maxsize=1)
def _mood_rows(models: str) -> list[tuple]:
    from attune.indexer.attributes import describe
    from attune.indexer.audio import log_mel
    from attune.indexer.backbones import load_backbone

    model = load_backbone("msd-musicnn")
    rows = []
    for piece in mood_set():
        spec = log_mel(piece.samples)
        attrs = describe(piece.samples, spec, model.embed_spectrogram(spec, piece.samples), model.tags,
                         model.segment_seconds, len(piece.samples) / SR)
        rows.append((piece, attrs))
    return rows


def test_energy_and_valence_follow_the_cues_listeners_use(models_dir):
    """32 pieces varying loudness, tempo, density, brightness, mode and register one at a
    time: energy and valence rank them as the cue counts do (the first wave's formulas:
    Spearman 0.13 and 0.23; bench/bench_attributes.py)."""
    rows = _mood_rows(str(models_dir))
    energy = spearmanr([p.energy_cues for p, _ in rows], [a["energy"] for _, a in rows])[0]
    valence = spearmanr([p.valence_cues for p, _ in rows], [a["valence"] for _, a in rows])[0]
    assert energy > 0.5 and valence > 0.5, (energy, valence)
    spread = [a["valence"] for _, a in rows]
    assert max(spread) - min(spread) > 0.5
    major = np.mean([a["valence"] for p, a in rows if p.name.startswith("major")])
    minor = np.mean([a["valence"] for p, a in rows if p.name.startswith("minor")])
    assert major - minor > 0.15


def test_tempo_within_4_percent_octaves_allowed():
    """Grooves and loops at known tempi, real instrument sounds: at least 18 of 22 within 4%
    of the tempo or an octave of it (the first wave's beat tracker: 17)."""
    from attune.indexer.audio import log_mel
    from attune.indexer.tempo import estimate

    hits = 0
    for piece in tempo_set():
        bpm = estimate(log_mel(piece.samples), duration=len(piece.samples) / SR).bpm or 0.0
        hits += any(abs(bpm - piece.bpm * f) <= 0.04 * piece.bpm * f for f in (1, 0.5, 2, 1 / 3, 3))
    assert hits >= 18, hits
