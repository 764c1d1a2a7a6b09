"""The candidate's side of a test run (runs inside the sandbox, as `python -I -c`, in its own process).

It loads candidate.py from the work dir and then answers the harness's calls on fd 3 (requests) and
fd 4 (replies), one `[name, args, kwargs]` at a time. A result goes back only as plain data
(`_wire.encode`); an exception, a `SystemExit` or a non-plain value goes back as what it is. Nothing
here is trusted: the code it loads can patch all of it, and the harness believes none of it beyond
plain values (see `_sandbox_harness`).
"""

import os
import sys

try:  # inside the sandbox `_wire` comes bundled (see sandbox._role_source)
    from _wire import NonPlain, decode, encode, recv, send
except ModuleNotFoundError:  # imported as a module of the package
    from verification._wire import NonPlain, decode, encode, recv, send

REQ, REP = 3, 4


def _reply_exception(e):
    if isinstance(e, SystemExit):
        send(REP, ["exit", repr(e.code)])
        os._exit(0)
    send(REP, ["raise", type(e).__name__, str(e)[:500]])


def main():
    if sys.argv[1:] and sys.argv[1]:
        exec(sys.argv[1], {})  # the fallback mode's audit hooks
    ns = {"__name__": "__main__", "__file__": "candidate.py", "__builtins__": __builtins__}
    try:
        with open("candidate.py", encoding="utf-8") as f:
            src = f.read()
        exec(compile(src, "candidate.py", "exec"), ns)
    except SystemExit as e:
        send(REP, ["exit", repr(e.code)])
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - every load failure is reported
        send(REP, ["load_error", f"{type(e).__name__}: {e}"[:500]])
        os._exit(0)
    send(REP, ["ready"])
    while (msg := recv(REQ)) is not None:
        name, args, kwargs = msg
        if not callable(ns.get(name)):
            send(REP, ["raise", "NameError", f"the candidate defines no function {name!r}"])
            continue
        try:
            result = ns[name](*decode(args), **decode(kwargs))
        except BaseException as e:  # noqa: BLE001 - passed on to the harness
            _reply_exception(e)
            continue
        try:
            payload = encode(result)
        except NonPlain as e:
            send(REP, ["nonplain", str(e)])
            continue
        except BaseException as e:  # noqa: BLE001 - e.g. a __hash__ or __iter__ that raises
            _reply_exception(e)
            continue
        try:
            send(REP, ["ok", payload])
        except ValueError as e:  # e.g. an int past Python's digit limit for str()
            send(REP, ["raise", "ValueError", str(e)[:500]])
    os._exit(0)


if __name__ == "__main__":
    main()
