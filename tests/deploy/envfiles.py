"""How the two install paths read a settings file, for tests of the blocks people copy.

- :func:`systemd_environment_file`: systemd's ``EnvironmentFile=`` (src/basic/env-file.c,
  ``parse_env_file_internal``), rewritten here as the same state machine: ``#`` or ``;`` start a
  comment only at the beginning of a line; an unquoted value runs to the end of the line, a ``#``
  in it included, with trailing whitespace chopped; quotes and backslashes as in the shell.
- :func:`docker_env_file`: ``docker run --env-file`` and compose v1's ``env_file``: a line is
  ``NAME=VALUE`` taken literally, no quotes and no comments after a value.

Neither is Errand code: they are the reference a settings block is checked against.
"""

from __future__ import annotations

from enum import Enum, auto

COMMENTS = "#;"
WHITESPACE = " \t\n\r"
NEWLINE = "\n\r"
SHELL_NEED_ESCAPE = '"\\`$'


class _State(Enum):
    PRE_KEY = auto()
    KEY = auto()
    PRE_VALUE = auto()
    VALUE = auto()
    VALUE_ESCAPE = auto()
    SINGLE_QUOTE_VALUE = auto()
    DOUBLE_QUOTE_VALUE = auto()
    DOUBLE_QUOTE_VALUE_ESCAPE = auto()
    COMMENT = auto()
    COMMENT_ESCAPE = auto()


def systemd_environment_file(text: str) -> dict[str, str]:
    """NAME -> value as a systemd service started with ``EnvironmentFile=`` would see it."""
    out: dict[str, str] = {}
    state = _State.PRE_KEY
    key: list[str] = []
    value: list[str] = []
    key_ws: int | None = None  # where trailing whitespace of the key starts
    value_ws: int | None = None  # where trailing whitespace of an unquoted value starts

    def push(chop_value: bool) -> None:
        name = "".join(key[:key_ws] if key_ws is not None else key)
        val = value[:value_ws] if chop_value and value_ws is not None else value
        out[name] = "".join(val)

    for c in text:
        if state is _State.PRE_KEY:
            if c in COMMENTS:
                state = _State.COMMENT
            elif c not in WHITESPACE:
                state, key, key_ws = _State.KEY, [c], None
        elif state is _State.KEY:
            if c in NEWLINE:
                state, key = _State.PRE_KEY, []
            elif c == "=":
                state, value, value_ws = _State.PRE_VALUE, [], None
            else:
                if c not in WHITESPACE:
                    key_ws = None
                elif key_ws is None:
                    key_ws = len(key)
                key.append(c)
        elif state is _State.PRE_VALUE:
            if c in NEWLINE:
                push(chop_value=False)
                state = _State.PRE_KEY
            elif c == "'":
                state = _State.SINGLE_QUOTE_VALUE
            elif c == '"':
                state = _State.DOUBLE_QUOTE_VALUE
            elif c == "\\":
                state = _State.VALUE_ESCAPE
            elif c not in WHITESPACE:
                state = _State.VALUE
                value.append(c)
        elif state is _State.VALUE:
            if c in NEWLINE:
                push(chop_value=True)
                state = _State.PRE_KEY
            elif c == "\\":
                state, value_ws = _State.VALUE_ESCAPE, None
            else:
                if c not in WHITESPACE:
                    value_ws = None
                elif value_ws is None:
                    value_ws = len(value)
                value.append(c)
        elif state is _State.VALUE_ESCAPE:
            state = _State.VALUE
            if c not in NEWLINE:  # an escaped newline joins the lines
                value.append(c)
        elif state is _State.SINGLE_QUOTE_VALUE:
            if c == "'":
                state = _State.PRE_VALUE
            else:
                value.append(c)
        elif state is _State.DOUBLE_QUOTE_VALUE:
            if c == '"':
                state = _State.PRE_VALUE
            elif c == "\\":
                state = _State.DOUBLE_QUOTE_VALUE_ESCAPE
            else:
                value.append(c)
        elif state is _State.DOUBLE_QUOTE_VALUE_ESCAPE:
            state = _State.DOUBLE_QUOTE_VALUE
            if c in SHELL_NEED_ESCAPE:
                value.append(c)
            elif c != "\n":
                value.extend(("\\", c))
        elif state is _State.COMMENT:
            if c == "\\":
                state = _State.COMMENT_ESCAPE
            elif c in NEWLINE:
                state = _State.PRE_KEY
        elif state is _State.COMMENT_ESCAPE:
            state = _State.PRE_KEY if c in NEWLINE else _State.COMMENT
    if state in (
        _State.PRE_VALUE,
        _State.VALUE,
        _State.VALUE_ESCAPE,
        _State.SINGLE_QUOTE_VALUE,
        _State.DOUBLE_QUOTE_VALUE,
        _State.DOUBLE_QUOTE_VALUE_ESCAPE,
    ):
        push(chop_value=state is _State.VALUE)
    return out


def docker_env_file(text: str) -> dict[str, str]:
    """NAME -> value as ``docker run --env-file`` passes it to the container."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep:
            out[name.lstrip()] = value
    return out
