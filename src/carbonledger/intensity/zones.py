"""Grid zones: the many spellings of a place, normalised to one key of the bundled table.

Keys (see ``docs/methodology/intensity.md``):

- countries: ISO 3166-1 alpha-2 (``FR``); also found by alpha-3 (``FRA``), by name
  (``France``, any case, accents optional) and by Electricity Maps country zone ids (``DE``);
- US states: ``US-XX`` (``US-CA``); also ``US_CA``, ``USA-CA``, ``egrid:CA`` and the state's
  name unless a country has that name (``Georgia`` is the country; the state is ``US-GA``);
- cloud regions: ``provider:region`` with provider ``aws``, ``gcp`` or ``azure``
  (``aws:us-east-1``, ``gcp:europe-west1``, ``azure:francecentral``). Providers are matched
  case-insensitively (``amazon``, ``google``, ``microsoft`` also work); Azure display names
  are accepted (``azure:France Central``); an AWS availability zone (``us-east-1a``) or a GCP
  zone (``europe-west1-b``) resolves to its region; a bare region name resolves when exactly
  one provider has a region of that name (``us-east-1``);
- ``WORLD``: the world average.

Unknown spellings raise :class:`~carbonledger.errors.UnknownZoneError` with up to three
close matches. Nothing here guesses a location: every match is exact after normalisation.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from carbonledger.errors import UnknownZoneError

__all__ = [
    "CLOUD_PROVIDERS",
    "KINDS",
    "ZoneInfo",
    "cloud_key",
    "fold_name",
    "normalize_zone",
    "resolve_zone",
]

KINDS = ("world", "country", "us-state", "cloud")
CLOUD_PROVIDERS = ("aws", "azure", "gcp")

_PROVIDER_ALIASES = {
    "aws": "aws",
    "amazon": "aws",
    "amazonwebservices": "aws",
    "ec2": "aws",
    "gcp": "gcp",
    "google": "gcp",
    "googlecloud": "gcp",
    "gce": "gcp",
    "azure": "azure",
    "microsoft": "azure",
    "microsoftazure": "azure",
    "egrid": "egrid",
}
_AWS_AZ = re.compile(r"(.+-\d+)[a-z]")
_GCP_ZONE = re.compile(r"(.+\d)-[a-z]")
_US_STATE_CODE = re.compile(r"usa? ([a-z]{2})")
_US_STATE_NAME = re.compile(r"(.+) usa?")
_SUBZONE = re.compile(r"([A-Za-z]{2})[-_ ].+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class ZoneInfo:
    """A resolved zone: its canonical ``key``, ``kind`` (see :data:`KINDS`) and display name."""

    key: str
    kind: str
    name: str


def fold_name(text: str) -> str:
    """The matching form of a name or code: casefolded, accents dropped, words joined by one space.

    ``"Côte d'Ivoire"`` → ``"cote d ivoire"``, ``"US_CA"`` → ``"us ca"``.
    """
    plain = text.casefold()
    if not plain.isascii():
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", plain.replace("&", " and ")).strip()


def cloud_key(provider: str, region: str) -> str:
    """The table key for a cloud region in a provider's own spelling.

    Azure names lose spaces, hyphens and underscores (``France Central`` → ``francecentral``);
    AWS and GCP regions are lower-cased with spaces turned into hyphens.
    """
    text = region.strip().lower()
    separators = r"[\s_\-]+" if provider == "azure" else r"[\s_]+"
    return f"{provider}:{re.sub(separators, '' if provider == 'azure' else '-', text)}"


@dataclass(frozen=True)
class _Keys:
    infos: dict[str, ZoneInfo]  # key -> info
    bare_regions: dict[str, tuple[str, ...]]  # cloud region name -> keys having it


@dataclass(frozen=True)
class _Names:
    folded: dict[str, str]  # folded key, name or alias (not cloud) -> key
    spellings: tuple[tuple[str, str], ...]  # (spelling shown in suggestions, key)


@functools.cache
def _keys() -> _Keys:
    from carbonledger.intensity.bundled import load_table  # lazy: bundled imports this module

    infos: dict[str, ZoneInfo] = {}
    bare: dict[str, list[str]] = {}
    for rec in load_table():
        infos[rec.key] = ZoneInfo(rec.key, rec.kind, rec.name)
        if rec.kind == "cloud":
            bare.setdefault(rec.key.split(":", 1)[1], []).append(rec.key)
    return _Keys(infos=infos, bare_regions={k: tuple(v) for k, v in bare.items()})


@functools.cache
def _names() -> _Names:
    """Built on the first spelling that is not a key (exact keys never need it)."""
    from carbonledger.intensity.bundled import load_table

    folded: dict[str, str] = {}
    spellings: list[tuple[str, str]] = []
    for rec in load_table():
        spellings.append((rec.key, rec.key))
        if rec.kind == "cloud":
            continue
        for spelling in (rec.key, rec.name, *rec.aliases):
            folded.setdefault(fold_name(spelling), rec.key)
        spellings.extend((s, rec.key) for s in (rec.name, *rec.aliases))
    return _Names(folded=folded, spellings=tuple(spellings))


def resolve_zone(text: str) -> ZoneInfo:
    """The zone that ``text`` names, in any accepted spelling (see the module docstring).

    Raises :class:`~carbonledger.errors.UnknownZoneError` (with close matches) otherwise.
    """
    raw = text.strip()
    keys = _keys()
    exact = keys.infos.get(raw)
    if exact is not None:
        return exact
    if not raw:
        raise UnknownZoneError(text, ())
    sep = re.search(r"[:/]", raw)
    if sep is not None:
        found = _resolve_prefixed(raw[: sep.start()], raw[sep.end() :], keys)
        if found is not None:
            return found
        raise UnknownZoneError(raw, _suggest(raw, keys, _names()))
    names = _names()
    key = names.folded.get(fold_name(raw))
    if key is None:
        key = _us_state(fold_name(raw), keys, names)
    if key is None:
        owners = keys.bare_regions.get(raw.lower())
        if owners is not None and len(owners) == 1:
            key = owners[0]
    if key is None:
        raise UnknownZoneError(raw, _suggest(raw, keys, names))
    return keys.infos[key]


def normalize_zone(text: str) -> str:
    """The canonical key of the zone ``text`` names (``"France"`` → ``"FR"``)."""
    return resolve_zone(text).key


def _resolve_prefixed(prefix: str, rest: str, index: _Keys) -> ZoneInfo | None:
    provider = _PROVIDER_ALIASES.get(fold_name(prefix).replace(" ", ""))
    if provider is None:
        return None
    if provider == "egrid":
        info = index.infos.get("US-" + rest.strip().upper())
        return info if info is not None and info.kind == "us-state" else None
    key = cloud_key(provider, rest)
    if key in index.infos:
        return index.infos[key]
    region = key.split(":", 1)[1]
    pattern = _AWS_AZ if provider == "aws" else _GCP_ZONE if provider == "gcp" else None
    match = pattern.fullmatch(region) if pattern is not None else None
    if match is not None:
        return index.infos.get(f"{provider}:{match.group(1)}")
    return None


def _us_state(folded: str, keys: _Keys, names: _Names) -> str | None:
    code = _US_STATE_CODE.fullmatch(folded)
    if code is not None:
        key = "US-" + code.group(1).upper()
        return key if key in keys.infos else None
    named = _US_STATE_NAME.fullmatch(folded)
    if named is not None:
        found = names.folded.get(named.group(1))
        if found is not None and keys.infos[found].kind == "us-state":
            return found
        for info in keys.infos.values():  # a state whose name a country also has
            if info.kind == "us-state" and fold_name(info.name) == named.group(1):
                return info.key
    return None


def _suggest(raw: str, keys: _Keys, names: _Names, limit: int = 3) -> list[str]:
    import difflib  # only on the error path

    out: list[str] = []
    seen: set[str] = set()
    sub = _SUBZONE.fullmatch(raw)
    if sub is not None:  # an Electricity Maps sub-zone such as "DK-DK1": offer its country
        parent = names.folded.get(fold_name(sub.group(1)))
        if parent is not None and keys.infos[parent].kind == "country":
            out.append(parent)
            seen.add(parent)
    by_fold: dict[str, tuple[str, str]] = {}
    for spelling, key in names.spellings:
        by_fold.setdefault(spelling.casefold(), (spelling, key))
    for match in difflib.get_close_matches(raw.casefold(), list(by_fold), n=limit * 3, cutoff=0.6):
        spelling, key = by_fold[match]
        if key not in seen:
            seen.add(key)
            out.append(spelling)
        if len(out) >= limit:
            break
    return out[:limit]
