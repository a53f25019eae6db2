"""Genre normalisation: messy genre strings onto one vocabulary.

File tags and imported tables spell genres every way ("Hip Hop", "hiphop",
"Rap/Hip-Hop", "R&B/Soul", "alt rock", "Electronica/Dance"). At import and
index time each raw string is

1. split into parts on / ; , | (never on "&" or "and": "r&b", "drum and bass");
2. each part looked up by its *key* (lower case, letters, digits and "&" only,
   so "Hip-Hop", "hip hop" and "hiphop" share the key "hiphop") in the
   vocabulary (built-in genres plus those the library already has), then in
   the alias table (abbreviations and spellings a text model cannot know:
   "rnb", "alt rock", "dnb");
3. otherwise embedded with the text model and mapped to the most similar
   vocabulary genre when the cosine similarity reaches MODEL_THRESHOLD, unless
   that genre's words are a strict part of the string's (a subgenre such as
   "progressive electro house" is not folded into "electro house");
4. otherwise kept, cleaned, as a new genre of the library.

The original string is kept as a tag of the track, and a curator's override
(`attune genres set RAW GENRE...`) wins over all of this. The mapping of every
raw string seen is stored in the library's meta table (`genre_map`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Similarity (cosine, all-MiniLM-L6-v2) at which an unknown part maps to a known genre.
#: "electronica" -> "electronic" scores 0.84; unrelated genres stay below 0.75.
MODEL_THRESHOLD = 0.8

GENRES: tuple[str, ...] = (
    "acid jazz", "acoustic", "afrobeat", "afrobeats", "album rock", "alternative", "alternative rock",
    "ambient", "americana", "art rock", "bebop", "big band", "big room", "bluegrass", "blues",
    "blues rock", "bossa nova", "breakbeat", "britpop", "chillout", "christian", "classic rock",
    "classical", "country", "dance", "dance pop", "dancehall", "deep house", "disco", "downtempo",
    "drum and bass", "dub", "dubstep", "easy listening", "edm", "electro", "electro house",
    "electronic", "electropop", "emo", "experimental", "folk", "folk rock", "funk", "fusion",
    "gangster rap", "garage", "garage rock", "gospel", "grime", "grunge", "hard rock", "hardcore",
    "heavy metal", "hip hop", "hip pop", "house", "idm", "indie", "indie folk", "indie pop",
    "indie rock", "industrial", "j-pop", "jazz", "jazz funk", "k-pop", "latin", "latin pop",
    "latin hip hop", "lo-fi", "lounge", "metal", "minimal techno", "motown", "neo soul",
    "new age", "new jack swing", "new wave", "noise", "northern soul", "opera", "pop", "pop punk",
    "pop rock", "post-punk", "post-rock", "progressive house", "progressive rock", "psychedelic rock",
    "punk", "r&b", "rap", "reggae", "reggaeton", "rock", "rock and roll", "rockabilly", "salsa",
    "samba", "shoegaze", "singer-songwriter", "ska", "soft rock", "soul", "soundtrack",
    "southern hip hop", "swing", "synth-pop", "synthwave", "techno", "trance", "trap",
    "trip hop", "tropical", "urban contemporary", "world",
)

#: key -> genre, for spellings and abbreviations a sentence model does not resolve.
ALIASES: dict[str, str] = {
    "rnb": "r&b", "randb": "r&b", "rhythmandblues": "r&b", "rhythmblues": "r&b", "contemporaryrnb": "r&b",
    "hiphoprap": "hip hop", "hiphopmusic": "hip hop",
    "altrock": "alternative rock", "alternativeindie": "alternative", "alt": "alternative",
    "altcountry": "americana", "indiealternative": "alternative",
    "electronicdance": "edm", "electronicdancemusic": "edm",
    "dnb": "drum and bass", "drumnbass": "drum and bass", "drumbass": "drum and bass",
    "rocknroll": "rock and roll", "rockroll": "rock and roll", "rocknroll50s": "rock and roll",
    "synthpop": "synth-pop", "postpunk": "post-punk", "postrock": "post-rock",
    "prog": "progressive rock", "progrock": "progressive rock", "psych": "psychedelic rock",
    "lofi": "lo-fi", "lofihiphop": "lo-fi", "kpop": "k-pop", "jpop": "j-pop",
    "ost": "soundtrack", "filmscore": "soundtrack", "score": "soundtrack", "soundtracks": "soundtrack",
    "classicalmusic": "classical", "worldmusic": "world", "raggae": "reggae",
    "countrymusic": "country", "singersongwriter": "singer-songwriter", "triphop": "trip hop",
    "hardrock": "hard rock", "heavymetal": "heavy metal", "drumandbass": "drum and bass",
}

_SPLIT = re.compile(r"\s*[/;,|]\s*")


def key(text: str) -> str:
    """Lower case, letters, digits and '&' only: the form spellings are compared in."""
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == "&")


def clean(text: str) -> str:
    """A new genre's name: lower case, single spaces."""
    return " ".join(text.lower().split())


def parts(raw: str) -> list[str]:
    return [p for p in _SPLIT.split(raw.strip()) if p.strip()]


@dataclass(frozen=True)
class Mapping:
    raw: str
    genres: tuple[str, ...]
    how: str  # "exact", "alias", "model 0.84", "new", "override", or these joined by "+"


@dataclass
class GenreMap:
    """The raw-string -> genres mapping of one library."""

    vocabulary: tuple[str, ...] = GENRES
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    seen: dict[str, Mapping] = field(default_factory=dict)
    #: False: unknown parts become new genres without consulting the text model.
    use_model: bool = True

    def __post_init__(self) -> None:
        self._by_key = {key(g): g for g in self.vocabulary}

    def extend(self, genres: Iterable[str]) -> None:
        """Add genres the library already has to the vocabulary."""
        new = [clean(g) for g in genres if g and key(g) not in self._by_key]
        if not new:  # the usual case: called once per raw string on import
            return
        for g in new:
            self._by_key.setdefault(key(g), g)
        # Their keys were unknown, so none of them is in the vocabulary yet.
        self.vocabulary += tuple(dict.fromkeys(new))

    def lookup(self, part: str) -> tuple[str, str] | None:
        """The known genre for one part and how it was found, without the text model."""
        k = key(part)
        if not k:
            return None
        if k in self._by_key:
            return self._by_key[k], "exact"
        if k in ALIASES:
            return ALIASES[k], "alias"
        return None

    def normalize_all(self, raws: Iterable[str]) -> dict[str, Mapping]:
        """Map many raw strings at once (one batch through the text model)."""
        raws = list(dict.fromkeys(r for r in raws if r and r.strip()))
        out = {r: self.seen[r] for r in raws if r in self.seen and self._current(self.seen[r])}
        raws = [r for r in raws if r not in out]
        unknown: list[str] = []
        for raw in raws:
            for part in parts(raw):
                if self._override(part) is None and self.lookup(part) is None and clean(part) not in unknown:
                    unknown.append(clean(part))
        by_model = self._model_map(unknown)
        for raw in raws:
            out[raw] = self.seen[raw] = self._map(raw, by_model)
            self.extend(out[raw].genres)
        return out

    def _current(self, mapping: Mapping) -> bool:
        """A stored mapping still holds unless an override now touches its string or parts."""
        if "override" in mapping.how:
            return False
        return self._override(mapping.raw) is None and all(self._override(p) is None for p in parts(mapping.raw))

    def normalize(self, raw: str) -> Mapping:
        return self.normalize_all([raw]).get(raw, Mapping(raw, (), "empty"))

    def _override(self, text: str) -> tuple[str, ...] | None:
        for candidate in (text, text.strip(), clean(text)):
            if candidate in self.overrides:
                return self.overrides[candidate]
        return None

    def _map(self, raw: str, by_model: dict[str, tuple[str, float]]) -> Mapping:
        whole = self._override(raw)
        if whole is not None:
            return Mapping(raw, whole, "override")
        genres: list[str] = []
        hows: list[str] = []
        for part in parts(raw):
            over = self._override(part)
            found = self.lookup(part)
            if over is not None:
                genres += over
                hows.append("override")
            elif found is not None:
                genres.append(found[0])
                hows.append(found[1])
            elif clean(part) in by_model:
                genre, sim = by_model[clean(part)]
                genres.append(genre)
                hows.append(f"model {sim:.2f}")
            else:
                genres.append(clean(part))
                hows.append("new")
        return Mapping(raw, tuple(dict.fromkeys(genres)), "+".join(dict.fromkeys(hows)))

    def _model_map(self, unknown: list[str]) -> dict[str, tuple[str, float]]:
        if not unknown or not self.use_model:
            return {}
        from . import textmodel

        if not textmodel.enabled():
            return {}
        nearest = textmodel.nearest(unknown, list(self.vocabulary))
        # A subgenre is not its parent: "progressive electro house" stays itself
        # although the model finds it close to "electro house".
        return {
            u: (g, s) for u, (g, s) in zip(unknown, nearest)
            if s >= MODEL_THRESHOLD and not set(g.split()) < set(u.split())
        }

    # -- storage -----------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "overrides": {k: list(v) for k, v in sorted(self.overrides.items())},
            "seen": {m.raw: {"genres": list(m.genres), "how": m.how} for m in self.seen.values()},
        }

    @classmethod
    def from_json(cls, data: dict | None, *, use_model: bool = True) -> GenreMap:
        data = data or {}
        gm = cls(overrides={k: tuple(v) for k, v in data.get("overrides", {}).items()}, use_model=use_model)
        for raw, m in data.get("seen", {}).items():
            gm.seen[raw] = Mapping(raw, tuple(m["genres"]), m["how"])
        gm.extend(g for m in gm.seen.values() for g in m.genres)
        return gm
