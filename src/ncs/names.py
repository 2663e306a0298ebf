"""Canonical names of nerves, sides and stimulation sites, and the proximal order of sites.

These tables are data: normalisation looks names up here, it never guesses. A site that is
not listed for its nerve needs an explicit ``site_order`` column in the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

__all__ = [
    "ENTRAPMENT_ZONES",
    "MUSCLE_ALIASES",
    "NERVE_ALIASES",
    "SIDE_ALIASES",
    "SITE_ALIASES",
    "SITE_RANK",
    "canonical_site",
    "clean_name",
    "entrapment_crossing",
    "normalize_nerve",
    "normalize_side",
    "normalize_site",
    "site_rank",
    "site_rank_array",
]

# Canonical nerve names (keys) and accepted spellings (values, already "cleaned": lower case,
# single spaces, no punctuation).
_NERVES: dict[str, tuple[str, ...]] = {
    "median": ("median", "median motor", "med"),
    "ulnar": ("ulnar", "ulnar motor", "uln"),
    "peroneal": (
        "peroneal",
        "fibular",
        "common peroneal",
        "common fibular",
        "deep peroneal",
        "deep fibular",
        "peroneal motor",
        "fibular motor",
        "per",
        "fib",
    ),
    "tibial": ("tibial", "posterior tibial", "tibial motor", "tib"),
    "radial": ("radial", "radial motor", "rad"),
    "musculocutaneous": ("musculocutaneous", "mc"),
    "axillary": ("axillary",),
    "femoral": ("femoral",),
    "accessory": ("accessory", "spinal accessory"),
    "facial": ("facial",),
    "phrenic": ("phrenic",),
}

NERVE_ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: canon for canon, aliases in _NERVES.items() for alias in aliases}
)
"""Accepted nerve spelling -> canonical nerve name."""

SIDE_ALIASES: Mapping[str, str] = MappingProxyType(
    {"l": "L", "left": "L", "lt": "L", "r": "R", "right": "R", "rt": "R"}
)
"""Accepted side spelling -> ``"L"`` or ``"R"``."""

# Canonical site name -> accepted spellings (cleaned).
_SITES: dict[str, tuple[str, ...]] = {
    "palm": ("palm",),
    "wrist": ("wrist", "wr", "wri", "wrs", "wrst"),
    "forearm": ("forearm", "fa", "mid forearm", "frm"),
    "below elbow": (
        "below elbow",
        "be",
        "b elbow",
        "belowelbow",
        "below elb",
        "bel elb",
        "bel elbow",
        "b elb",
        "belb",
        "blw elb",
        "blw elbow",
        "bel el",
        "below el",
    ),
    "elbow": ("elbow", "elb", "antecubital", "antecubital fossa", "cubital fossa"),
    "above elbow": (
        "above elbow",
        "ae",
        "a elbow",
        "aboveelbow",
        "above elb",
        "ab elb",
        "ab elbow",
        "abv elb",
        "abv elbow",
        "a elb",
        "aelb",
        "abo elb",
        "ab el",
        "above el",
    ),
    "below spiral groove": ("below spiral groove", "bsg", "spiral groove", "bel sg"),
    "above spiral groove": ("above spiral groove", "asg", "ab sg"),
    "arm": ("arm", "upper arm", "mid arm"),
    "axilla": ("axilla", "ax", "axila", "axil", "axl"),
    "erb": ("erb", "erbs point", "erb point", "erbs", "erb s point", "supraclavicular"),
    "root": ("root", "cervical root", "lumbar root", "nerve root"),
    "ankle": ("ankle", "ank", "ankl"),
    "below fibular head": (
        "below fibular head",
        "bfh",
        "fibular head",
        "below knee",
        "fib head",
        "below fib head",
        "below fibula head",
        "bel fib head",
        "b fib head",
        "fib hd",
        "bel fib hd",
        "below fh",
        "bel fh",
        "fibula head",
        "fibular neck",
        "fib neck",
    ),
    "above fibular head": (
        "above fibular head",
        "afh",
        "above fib head",
        "lateral popliteal fossa",
        "ab fib head",
        "abv fib head",
        "a fib head",
        "ab fib hd",
        "above fh",
        "ab fh",
    ),
    "popliteal fossa": (
        "popliteal fossa",
        "pf",
        "popliteal",
        "knee",
        "pop fossa",
        "pop",
        "popl",
        "popl fossa",
        "pop fos",
    ),
    "thigh": ("thigh",),
    "inguinal": ("inguinal", "inguinal ligament", "groin"),
}

# Recording muscles of motor studies: abbreviation (as written in reports) -> accepted
# spellings (cleaned). The abbreviation is what goes into the ``muscle`` column.
_MUSCLES: dict[str, tuple[str, ...]] = {
    "APB": ("apb", "abductor pollicis brevis", "abd poll brev", "abd pol brev", "thenar"),
    "ADM": (
        "adm",
        "adq",
        "abductor digiti minimi",
        "abductor digiti quinti",
        "abd dig min",
        "hypothenar",
    ),
    "FDI": ("fdi", "first dorsal interosseous", "1st dorsal interosseous", "1di", "di1"),
    "FCU": ("fcu", "flexor carpi ulnaris"),
    "EDC": ("edc", "extensor digitorum communis", "extensor digitorum"),
    "EIP": ("eip", "extensor indicis proprius", "extensor indicis"),
    "BB": ("bb", "biceps", "biceps brachii"),
    "Deltoid": ("deltoid", "delt"),
    "EDB": ("edb", "extensor digitorum brevis", "ext dig brev"),
    "TA": ("ta", "tibialis anterior", "tib ant", "anterior tibial"),
    "PL": ("pl", "peroneus longus", "fibularis longus"),
    "AH": ("ah", "abductor hallucis", "abd hal", "abd hall"),
    "ADQP": ("adqp", "admp", "abductor digiti quinti pedis", "abductor digiti minimi pedis"),
    "RF": ("rf", "rectus femoris", "quadriceps"),
    "VM": ("vm", "vastus medialis"),
    "Trapezius": ("trapezius", "trap"),
    "Nasalis": ("nasalis",),
    "Orbicularis oculi": ("orbicularis oculi", "orb oculi"),
    "Diaphragm": ("diaphragm",),
}

MUSCLE_ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: canon for canon, aliases in _MUSCLES.items() for alias in aliases}
)
"""Accepted spelling of a recording muscle -> its usual abbreviation (``APB``, ``EDB``, ...)."""

SITE_ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: canon for canon, aliases in _SITES.items() for alias in aliases}
)
"""Accepted site spelling -> canonical site name."""

_UPPER = (
    "palm",
    "wrist",
    "forearm",
    "below elbow",
    "elbow",
    "above elbow",
    "arm",
    "axilla",
    "erb",
    "root",
)
_RADIAL = (
    "forearm",
    "elbow",
    "below spiral groove",
    "above spiral groove",
    "axilla",
    "erb",
    "root",
)
_LOWER_PERONEAL = (
    "ankle",
    "below fibular head",
    "above fibular head",
    "popliteal fossa",
    "thigh",
    "root",
)
_LOWER_TIBIAL = ("ankle", "popliteal fossa", "thigh", "root")

SITE_RANK: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "median": MappingProxyType({s: i for i, s in enumerate(_UPPER)}),
        "ulnar": MappingProxyType({s: i for i, s in enumerate(_UPPER)}),
        "radial": MappingProxyType({s: i for i, s in enumerate(_RADIAL)}),
        "peroneal": MappingProxyType({s: i for i, s in enumerate(_LOWER_PERONEAL)}),
        "tibial": MappingProxyType({s: i for i, s in enumerate(_LOWER_TIBIAL)}),
        "musculocutaneous": MappingProxyType({"axilla": 0, "erb": 1, "root": 2}),
        "axillary": MappingProxyType({"erb": 0, "root": 1}),
        "femoral": MappingProxyType({"inguinal": 0, "root": 1}),
    }
)
"""Per nerve: canonical site -> rank, increasing proximally (0 = most distal known site).

Used to derive ``site_order`` when the input has none. The rank is only an order; the
derived ``site_order`` is the position among the sites actually recorded for the nerve.
"""

_CLEAN = re.compile(r"[^0-9a-z]+")


def _clean(values: pd.Series) -> pd.Series:
    """Lower-case, turn punctuation/underscores/hyphens into spaces, collapse spaces."""
    s = values.astype("string").str.lower().str.replace("'", "", regex=False)
    return s.str.replace(_CLEAN, " ", regex=True).str.strip()


def _lookup(values: pd.Series, table: Mapping[str, str]) -> pd.Series:
    """Map cleaned spellings through ``table``; unknown spellings become <NA>.

    Vectorised: the mapping is applied to the (few) unique values only.
    """
    cleaned = _clean(values)
    codes, uniques = pd.factorize(cleaned, use_na_sentinel=True)
    mapped = np.array([table.get(str(u), None) for u in uniques] + [None], dtype=object)
    out = mapped[codes]  # code -1 picks the trailing None
    return pd.Series(out, index=values.index, dtype="string")


def normalize_nerve(values: pd.Series) -> pd.Series:
    """Canonical nerve names (``fibular`` -> ``peroneal``); unknown names become <NA>."""
    return _lookup(values, NERVE_ALIASES)


def normalize_side(values: pd.Series) -> pd.Series:
    """``L``/``R`` from ``left``, ``Rt``, ``r`` ...; unknown sides become <NA>."""
    return _lookup(values, SIDE_ALIASES)


def normalize_site(values: pd.Series) -> pd.Series:
    """Canonical site names where known; unknown sites keep their cleaned spelling.

    Unknown site names are not errors by themselves: they are accepted when the input gives
    ``site_order`` explicitly.
    """
    cleaned = _clean(values)
    known = _lookup(values, SITE_ALIASES)
    return known.fillna(cleaned)


def site_rank(nerves: pd.Series, sites: pd.Series) -> pd.Series:
    """Proximal rank of each (canonical nerve, canonical site); <NA> where unknown."""
    keys = nerves.astype("string").fillna("") + "\x1f" + sites.astype("string").fillna("")
    table = {
        f"{nerve}\x1f{site}": rank
        for nerve, ranks in SITE_RANK.items()
        for site, rank in ranks.items()
    }
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    mapped = np.array([table.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
    ranks = mapped[codes]
    return pd.Series(ranks, index=nerves.index, dtype="Int64").where(ranks >= 0)


def clean_name(text: str) -> str:
    """Lower case, punctuation/underscores/hyphens to spaces, single spaces, no apostrophes."""
    return _CLEAN.sub(" ", text.lower().replace("'", "")).strip()


def canonical_site(text: str | None) -> str | None:
    """Canonical site name for a spelling; unknown sites keep their cleaned spelling."""
    if text is None:
        return None
    cleaned = clean_name(text)
    return SITE_ALIASES.get(cleaned, cleaned)


def site_rank_array(nerves: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Proximal rank per (canonical nerve, canonical site) as float; NaN where unknown.

    Looks up each distinct pair once.
    """
    nerve_codes, nerve_uniques = pd.factorize(np.asarray(nerves, dtype=object))
    site_codes, site_uniques = pd.factorize(np.asarray(sites, dtype=object))
    return site_rank_codes(nerve_codes, list(nerve_uniques), site_codes, list(site_uniques))


def site_rank_codes(
    nerve_codes: np.ndarray,
    nerve_names: Sequence[str],
    site_codes: np.ndarray,
    site_names: Sequence[str],
) -> np.ndarray:
    """:func:`site_rank_array` for coded columns (code -1 = missing -> NaN).

    Looks up each (nerve name, site name) pair once, then indexes with the codes.
    """
    table = np.full((len(nerve_names) + 1, len(site_names) + 1), np.nan)
    for i, nerve in enumerate(nerve_names):
        ranks = SITE_RANK.get(nerve)
        if ranks:
            for k, site in enumerate(site_names):
                table[i, k] = ranks.get(site, np.nan)
    return table[nerve_codes, site_codes]  # code -1 picks the NaN row/column


#: Common entrapment/compression zones: (nerve, distal site, proximal site, label). A segment
#: crosses a zone when its stimulation sites lie on both sides of it or inside it (interval
#: overlap on the SITE_RANK scale). Sources: AAEM 2003 MMN consensus (Olney et al., Muscle
#: Nerve 2003;27:117-121: median at the wrist, ulnar at the elbow or wrist, peroneal at the
#: fibular head); EFNS/PNS 2010 CIDP footnote (ulnar across the elbow).
ENTRAPMENT_ZONES: tuple[tuple[str, str, str, str], ...] = (
    ("median", "palm", "wrist", "median nerve at the wrist (carpal tunnel)"),
    ("ulnar", "palm", "wrist", "ulnar nerve at the wrist"),
    ("ulnar", "below elbow", "above elbow", "ulnar nerve across the elbow"),
    ("peroneal", "below fibular head", "above fibular head", "peroneal nerve at the fibular head"),
)


def entrapment_crossing(
    nerves: np.ndarray, distal_sites: np.ndarray, proximal_sites: np.ndarray
) -> np.ndarray:
    """Label of the entrapment zone each segment crosses, or None.

    Segments whose site names have no known rank for their nerve are not matched (None).
    """
    d = site_rank_array(nerves, distal_sites)
    p = site_rank_array(nerves, proximal_sites)
    nerve_codes, nerve_names = pd.factorize(np.asarray(nerves, dtype=object))
    codes = entrapment_codes(nerve_codes, list(nerve_names), d, p)
    labels = np.array([zone[3] for zone in ENTRAPMENT_ZONES] + [None], dtype=object)
    return labels[codes]


def entrapment_codes(
    nerve_codes: np.ndarray,
    nerve_names: Sequence[str],
    distal_rank: np.ndarray,
    proximal_rank: np.ndarray,
) -> np.ndarray:
    """Position in :data:`ENTRAPMENT_ZONES` of the zone each segment crosses (-1: none).

    The coded core of :func:`entrapment_crossing`: nerves as codes into ``nerve_names``,
    site ranks from :func:`site_rank_codes`.
    """
    out = np.full(len(distal_rank), -1, dtype=np.int64)
    position = {name: i for i, name in enumerate(nerve_names)}
    for k, (nerve, lo_site, hi_site, _) in enumerate(ENTRAPMENT_ZONES):
        if nerve not in position:
            continue
        ranks = SITE_RANK[nerve]
        lo, hi = ranks[lo_site], ranks[hi_site]
        with np.errstate(invalid="ignore"):
            crossing = (nerve_codes == position[nerve]) & (distal_rank < hi) & (proximal_rank > lo)
        out[crossing & (out < 0)] = k
    return out
