"""The word lists behind `ask`: plain words and phrases -> query terms.

Each entry's terms are written in the query language itself, so the table
reads like the queries it produces. Bands are fixed and round (energy<0.4,
not a library quantile) so a curator can read and edit the query.
Words not listed here are matched by spelling (difflib) and then by meaning
(the text model, against every phrase listed here, the library's genres and
its tags); see ask.py.
"""

from __future__ import annotations

#: terms -> the words and phrases that mean them
MEANINGS: dict[str, tuple[str, ...]] = {
    "energy<0.4": (
        "calm", "calming", "chill", "chilled", "chilling", "chillin", "mellow", "relaxing", "relaxed", "relax",
        "soft", "gentle", "quiet", "peaceful", "soothing", "laid back", "laid-back", "laidback", "low key",
        "low-key", "lowkey", "sleepy", "tranquil", "serene", "lazy", "cozy", "cosy", "late night",
        "late-night", "wind down", "unwind", "low energy", "low-energy", "easy going", "easygoing", "subdued",
        "rainy day", "sunday morning", "dinner", "dinner party", "background",
    ),
    "energy<0.3 vocalness<0.4": ("sleep", "sleeping", "meditation", "meditate", "yoga", "spa"),
    "energy<0.5 vocalness<0.4": ("study", "studying", "focus", "focused", "concentration", "concentrate", "reading", "work", "working", "coding"),
    "energy>0.7": (
        "energetic", "energy", "intense", "powerful", "loud", "hard hitting", "hard-hitting", "aggressive",
        "pumping", "pumped", "high energy", "high-energy", "workout", "work out", "gym", "running", "run",
        "jogging", "training", "cardio", "hype", "hyped", "banger", "bangers", "rowdy", "wild", "fierce",
        "explosive", "driving", "adrenaline", "heavy hitting", "pump up", "power",
    ),
    "energy>0.7 valence<0.4": ("angry", "furious", "rage", "raging", "hateful", "menacing"),
    "energy>0.7 danceability>0.6": ("party", "partying", "club", "clubbing", "rave", "dance floor", "dancefloor"),
    "energy>0.6 valence>0.6": ("road trip", "roadtrip", "summer party", "pregame", "pre-game"),
    "valence>0.6": (
        "happy", "uplifting", "upbeat", "cheerful", "joyful", "joyous", "feel good", "feel-good", "feelgood",
        "sunny", "bright", "positive", "optimistic", "fun", "playful", "euphoric", "summer", "summery",
        "celebration", "celebratory", "good vibes", "good mood", "carefree", "sunshine",
    ),
    "valence<0.4": (
        "sad", "melancholic", "melancholy", "gloomy", "dark", "depressing", "depressed", "moody", "heartbreak",
        "heartbroken", "breakup", "break up", "somber", "sombre", "bittersweet", "lonely", "brooding",
        "tearjerker", "mournful", "angsty", "crying", "cry", "grief", "sorrowful", "downbeat", "bleak",
    ),
    "vocalness<0.3": (
        "instrumental", "instrumentals", "no vocals", "no vocal", "without vocals", "without vocal",
        "no singing", "without singing", "no lyrics", "without lyrics", "wordless", "no words",
        "without words", "non vocal", "non-vocal", "vocal free", "vocal-free", "no voice", "no voices",
    ),
    "vocalness>0.6": ("vocal", "vocals", "sung", "singing", "singer", "singers", "lyrics", "lyrical", "with vocals", "a cappella", "acapella", "choral", "voices"),
    "speechiness>0.33": ("spoken word", "spoken", "talking", "speech"),
    "tempo>=120": ("fast", "faster", "uptempo", "up-tempo", "quick", "speedy", "rapid", "high tempo", "high bpm", "fast paced", "fast-paced"),
    "tempo<=90": ("slow", "slower", "slow tempo", "low tempo", "low bpm", "slow paced", "slow-paced", "ballad", "ballads"),
    "danceability>0.7": ("danceable", "dancey", "groovy", "groove", "grooves", "grooving", "dancing", "dance to"),
    "acousticness>0.6": ("acoustic", "unplugged", "stripped", "stripped back", "stripped-back"),
    "liveness>0.7": ("live", "live recording", "live recordings", "concert", "in concert"),
    "popularity>=70": ("popular", "hits", "hit", "mainstream", "chart", "charts", "top", "famous", "well known", "well-known", "biggest"),
    "popularity<=30": ("obscure", "deep cuts", "deep cut", "underground", "hidden gems", "hidden gem", "lesser known", "lesser-known", "rare", "unknown"),
    "length<=180": ("short", "quick songs", "short songs"),
    "length>=360": ("long", "lengthy", "epic", "extended"),
    "consistency>=0.8": ("steady", "consistent", "even", "constant"),
    "consistency<=0.5": ("dynamic", "builds", "build up", "build-up", "crescendo", "buildup"),
}

#: Words that carry no meaning for a music search; dropped without being reported.
STOPWORDS = frozenset(
    """
    a an the some any of for to in on at with and or but me my our us we i you your it its this that these those
    is are be being was were am please play give find get want wanna need show put make let lets let's can could
    would like something songs song tracks track music tunes tune stuff playlist playlists mix list kind sort
    really very quite bit little more most much so too just also plus maybe good great nice best new-ish ish
    type vibe vibes feel feeling mood moods sounds sound sounding style from by into about around while when
    during time times day night nights evening afternoon morning weekend everything all one ones thing things
    artist artists band bands genre genres era tracks tune while
    """.split()
)

#: Words that negate the next term ("no rap", "without guitar", "not too fast").
NEGATIONS = frozenset({"no", "not", "without", "non", "except", "excluding", "exclude", "minus", "nothing", "avoid", "skip", "never", "w/o", "hold", "dont", "don't"})
#: Words allowed between a negation and what it negates.
NEGATION_FILLER = frozenset({"too", "any", "so", "very", "much", "the", "a", "an", "overly", "more", "of", "by", "from", "with", "play", "include", "want", "give", "me", "need"})
#: Phrases before a name that ask for similarity rather than a filter.
SIMILAR_MARKERS = ("sounds like", "sound like", "similar to", "in the style of", "style of", "reminds me of", "reminiscent of", "like", "such as", "a la", "à la")


def phrases() -> dict[str, str]:
    """phrase -> terms, every phrase in lower case."""
    return {p: terms for terms, words in MEANINGS.items() for p in words}
