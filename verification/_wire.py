"""Plain data across the sandbox boundary: the only values a candidate can hand the test harness.

Why: a candidate that returns an object whose `__eq__` always says True (or an `int` subclass with such
an `__eq__`) passes `assert candidate(2, 3) == 5`. Values therefore cross from the candidate's process to
the harness's as tagged JSON, rebuilt on the harness side from exact built-in types only: None, bool, int,
float, str and (recursively) list, tuple, dict, set. Nothing else can be encoded, and whatever bytes
arrive, the decoder builds only those types, so no object of the candidate's ever reaches a comparison.

Standard library only: this file's source also runs inside the sandbox (see `verification.sandbox`).
Messages are framed as a 4-byte big-endian length and UTF-8 JSON.
"""

import json
import os
import struct

MAX_MESSAGE = 64 << 20  # bytes; a larger reply is an error, not an allocation
MAX_DEPTH = 200
_SCALARS = (type(None), bool, int, float, str)
_TAGS = {"L": list, "T": tuple, "S": set, "D": dict}


class NonPlain(TypeError):
    """A value that is not plain data (a subclass, a custom object, a function...)."""


def describe(v) -> str:
    t = type(v)
    base = next((b.__name__ for b in t.__mro__[1:] if b in (*_SCALARS, list, tuple, dict, set)), None)
    return f"{t.__name__} (a subclass of {base})" if base else t.__name__


def encode(v, depth=0):
    """The tagged-JSON form of `v`; NonPlain when anything in it is not exactly a plain type."""
    if depth > MAX_DEPTH:
        raise NonPlain(f"nesting deeper than {MAX_DEPTH}")
    t = type(v)
    if t in _SCALARS:
        return v
    if t is list or t is tuple or t is set:
        items = sorted(v, key=repr) if t is set else v
        return {{list: "L", tuple: "T", set: "S"}[t]: [encode(x, depth + 1) for x in items]}
    if t is dict:
        return {"D": [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]}
    raise NonPlain(describe(v))


def decode(obj, depth=0):
    """Rebuild plain data from the parsed JSON of `encode`; ValueError on anything else."""
    if depth > MAX_DEPTH:
        raise ValueError("nesting too deep")
    t = type(obj)
    if t in _SCALARS:
        return obj
    if t is dict and len(obj) == 1:
        ((tag, body),) = obj.items()
        if tag in _TAGS and type(body) is list:
            if tag == "D":
                if not all(type(p) is list and len(p) == 2 for p in body):
                    raise ValueError("bad dict entry")
                return {decode(k, depth + 1): decode(x, depth + 1) for k, x in body}
            return _TAGS[tag](decode(x, depth + 1) for x in body)
    raise ValueError("not an encoded plain value")


def send(fd, msg) -> None:
    data = json.dumps(msg, allow_nan=True).encode("utf-8")
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd, n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv(fd):
    """The next message, or None at end of stream; ValueError for a malformed or oversized one."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes is over the limit")
    body = _read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))
