"""The schema of every verdict file `vgsuite compare` reads, checked field by field (fail closed).

A regression gate that passes on garbage is worse than none: a baseline whose claim ids are numbers,
whose verdict list is empty or whose numbers are strings must not compare as "no regression", and
must not crash the gate either. `suite.regression` calls these checks on everything it reads (a
baseline, a report's results.json, `vgsuite claims --json` output, a folder of verdict lines), and
each failure is one `VerdictFileError` (a ValueError: exit status 2 on the command line) naming the
file, the entry and the field. What a verdict must hold (the fields the gate compares):

    claim_id   non-empty string, unique within the set
    verdict    one of VERDICTS
    value, effect_size, p_value               a number or null (NaN/inf appear as null)
    ci, effect_ci                             null or [lo, hi] of numbers or nulls
    n          null or an integer >= 0;  settings  null or an object
    statistic, test, conditions, expected     null or a string (expected: one of VERDICTS)

Fields outside this list are dropped by the reader (suite.regression.KEPT), never trusted.
"""

from __future__ import annotations

import math

VERDICTS = ("supported", "refuted", "conditional", "inconclusive")
_NUMBERS = ("value", "effect_size", "p_value")
_INTERVALS = ("ci", "effect_ci")
_TEXTS = ("statistic", "test", "conditions")


class VerdictFileError(ValueError):
    """A verdict file or directory that cannot be read as a verdict set."""


def _number(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                             and not (isinstance(value, float) and math.isnan(value)))


def check_verdict(item, where: str) -> dict:
    """`item` if it is a well-formed verdict; else VerdictFileError naming `where` and the field."""
    if not isinstance(item, dict):
        raise VerdictFileError(f"verdicts: {where}: an entry is {type(item).__name__}, not an object")
    claim = item.get("claim_id")
    if not isinstance(claim, str) or not claim.strip():
        raise VerdictFileError(f"verdicts: {where}: claim_id must be a non-empty string, got {claim!r:.60}")
    at = f"{where}: claim {claim!r:.40}"
    if item.get("verdict") not in VERDICTS:
        raise VerdictFileError(f"verdicts: {at}: verdict must be one of {list(VERDICTS)}, "
                               f"got {item.get('verdict')!r:.60}")
    if item.get("expected") is not None and item["expected"] not in VERDICTS:
        raise VerdictFileError(f"verdicts: {at}: expected must be one of {list(VERDICTS)} or null, "
                               f"got {item['expected']!r:.60}")
    for field in _NUMBERS:
        if not _number(item.get(field)):
            raise VerdictFileError(f"verdicts: {at}: {field} must be a number or null, got {item.get(field)!r:.60}")
    for field in _INTERVALS:
        ci = item.get(field)
        if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(map(_number, ci))):
            raise VerdictFileError(f"verdicts: {at}: {field} must be null or [lo, hi] of numbers, got {ci!r:.60}")
    n = item.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise VerdictFileError(f"verdicts: {at}: n must be an integer >= 0 or null, got {n!r:.60}")
    if item.get("settings") is not None and not isinstance(item["settings"], dict):
        raise VerdictFileError(f"verdicts: {at}: settings must be an object or null")
    for field in _TEXTS:
        if item.get(field) is not None and not isinstance(item[field], str):
            raise VerdictFileError(f"verdicts: {at}: {field} must be a string or null")
    return item


def check_list(items, where: str) -> list[dict]:
    """A non-empty list of well-formed verdicts with distinct claim ids."""
    if not isinstance(items, list):
        raise VerdictFileError(f"verdicts: {where}: 'verdicts' must be a list, got {type(items).__name__}")
    if not items:
        raise VerdictFileError(f"verdicts: {where}: holds no verdicts (an empty set compares as nothing)")
    seen = set()
    for item in items:
        claim = check_verdict(item, where)["claim_id"]
        if claim in seen:
            raise VerdictFileError(f"verdicts: {where}: claim {claim!r:.40} appears twice")
        seen.add(claim)
    return items


def check_header(data: dict, where: str, fields=("profile", "device", "version")) -> None:
    """The set-level fields: strings or null, master_seed an integer or null, meta an object."""
    for field in fields:
        if data.get(field) is not None and not isinstance(data[field], str):
            raise VerdictFileError(f"verdicts: {where}: {field} must be a string or null, "
                                   f"got {data[field]!r:.60}")
    seed = data.get("master_seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise VerdictFileError(f"verdicts: {where}: master_seed must be an integer or null, got {seed!r:.60}")
    if data.get("meta") is not None and not isinstance(data["meta"], dict):
        raise VerdictFileError(f"verdicts: {where}: meta must be an object, got {type(data['meta']).__name__}")


def check_line(record, where: str) -> dict:
    """One line of a verdict folder: {"verdict": {...}, "profile", "device", "master_seed", "version"}."""
    if not isinstance(record, dict):
        raise VerdictFileError(f"verdicts: {where}: a line must be an object, got {type(record).__name__}")
    if not isinstance(record.get("device"), str) or not record["device"]:
        raise VerdictFileError(f"verdicts: {where}: device must be a non-empty string, "
                               f"got {record.get('device')!r:.60}")
    check_header(record, where)
    check_verdict(record.get("verdict"), where)
    return record


__all__ = ["VERDICTS", "VerdictFileError", "check_header", "check_line", "check_list", "check_verdict"]
