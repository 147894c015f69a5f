"""How a settings mistake is told to the operator: one line, in Errand's words.

``bot.config`` validates with pydantic; pydantic's own messages ("Input should be greater than or
equal to 1") name neither the setting nor what would be right. This module turns each kind of
mistake into a line that names the setting, the value (never for a secret) and what is expected,
and finds the two mistakes pydantic cannot see at all: a misspelt name (silently ignored, so
``ALLOWED_USER=1`` left everyone locked out) and a comment after a value (systemd's
``EnvironmentFile`` and ``docker --env-file`` keep it as part of the value).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic is not imported for `errandbot download` (bot.download_settings)
    from pydantic.fields import FieldInfo

#: Names a settings file may hold that are read by something else: Docker Compose takes these from
#: the same .env (deploy/docker-compose.yml): the local Bot API server's API id and hash,
#: PostgreSQL's password (the scale profile, docs/scale.md) and whether the image gets ffmpeg.
OTHER_PROGRAMS_SETTINGS = frozenset(
    {"TELEGRAM_API_ID", "TELEGRAM_API_HASH", "POSTGRES_PASSWORD", "ERRAND_FFMPEG"}
)

#: How close an environment variable's name must be to a setting's to be taken for a typo of it.
#: The environment holds many variables that are not ours (PATH, HOME, ...); only near misses such
#: as ALLOWED_USER or DOWNLOAD_CONECTIONS are reported. A settings file (.env) is Errand's alone,
#: so any unknown name in it is reported.
TYPO_CUTOFF = 0.85

#: Whitespace then ``#``: a comment where systemd and docker keep it as part of the value.
_INLINE_COMMENT = re.compile(r"\s+(#.*)$")


def inline_comment(value: str) -> str | None:
    """The ``# ...`` part of a value that ends in what looks like a comment, else None."""
    match = _INLINE_COMMENT.search(value)
    return match.group(1).strip() if match else None


def inline_comment_problem(name: str, value: str) -> str | None:
    """The line telling that ``name``'s value carries a comment, or None when it does not."""
    comment = inline_comment(value)
    if comment is None:
        return None
    if len(comment) > 40:
        comment = comment[:37] + "..."
    return (
        f"{name}: the value ends in what looks like a comment ({comment!r}); systemd and "
        f"docker keep everything after '=' as the value: put the comment on its own line"
    )


def closest(name: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known setting ``name`` is most likely a misspelling of, if any is close enough."""
    found = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def unknown_names(names: Iterable[str], known: frozenset[str], *, only_typos: bool) -> list[str]:
    """Each name that is not a setting, worded with the closest setting when there is one.

    ``only_typos`` (for the process environment) keeps only the names close to a setting.
    """
    out = []
    for name in sorted({n.upper() for n in names}):
        if name in known or name in OTHER_PROGRAMS_SETTINGS:
            continue
        match = closest(name, known, TYPO_CUTOFF if only_typos else 0.6)
        if match:
            out.append(f"{name} (did you mean {match}?)")
        elif not only_typos:
            out.append(name)
    return out


def unknown_names_problem(where: str, found: list[str]) -> str:
    """One line for the unknown names found in ``where`` (".env", "the environment")."""
    what = "is not a setting" if len(found) == 1 else "are not settings"
    return f"in {where}: {', '.join(found)} {what}; every setting is listed in .env.example"


def _bounds(field: FieldInfo) -> dict[str, Any]:
    from annotated_types import Ge, Gt, Le, Lt

    out: dict[str, Any] = {}
    for item in field.metadata:
        for cls, key in ((Ge, "ge"), (Gt, "gt"), (Le, "le"), (Lt, "lt")):
            if isinstance(item, cls):
                out[key] = getattr(item, key)
    return out


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expected(field: FieldInfo) -> str | None:
    """What a numeric setting takes, from its declared type and bounds ("a whole number from 1
    to 16"); None for other kinds of setting."""
    if field.annotation is int:
        kind = "a whole number"
    elif field.annotation is float:
        kind = "a number"
    else:
        return None
    b = _bounds(field)
    low = b.get("ge")
    high = b.get("le")
    if low is not None and high is not None:
        return f"{kind} from {_number(low)} to {_number(high)}"
    if low is not None:
        return f"{kind}, {_number(low)} or more"
    if "gt" in b:
        return f"{kind} above {_number(b['gt'])}"
    if high is not None:
        return f"{kind}, {_number(high)} or less"
    return kind


def describe_error(
    name: str, error: Mapping[str, Any], field: FieldInfo | None, secret: bool
) -> str:
    """One line for one pydantic error on setting ``name``: the setting, the value, what it takes.

    Messages written by our own validators (``ValueError``) already say this and are kept; the
    value of a secret setting is never repeated.
    """
    if error.get("type") == "value_error":
        return f"{name}: {str(error.get('msg', '')).removeprefix('Value error, ')}"
    value = "the value" if secret else repr(error.get("input"))
    want = expected(field) if field is not None else None
    if want is None:
        annotation = getattr(field, "annotation", None)
        want = "a folder path" if "Path" in str(annotation) else "a valid value"
    return f"{name}: {value} is not {want}"
