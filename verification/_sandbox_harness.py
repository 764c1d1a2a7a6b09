"""The harness's side of a test run (runs inside the sandbox, as `python -I -c`, under its own uid).

It makes itself non-dumpable, reads the run's configuration from fd 6 (the problem's trusted prompt, the tests, the entry point and
the per-run nonce), runs the prompt and the tests in its own process with the entry point bound to a
proxy that calls the candidate's process (fds 3 and 4; the candidate is started only after the
harness said on fd 7 that its configuration is read), and writes the verdict to fd 5, a pipe that only
this process holds, once, after `check` returned: `{"nonce": ..., "passed": ..., "reason": ...}`.

Why this cannot be forged: the candidate's code never runs here, so its `sys.exit`, `os._exit`, atexit
and excepthook, its patches of builtins and its trace hooks all act on another process; what comes back
from it is rebuilt as plain data (`_wire.decode`), so always-equal objects never reach a comparison; it
cannot read the nonce (another uid, or no capabilities and this process not dumpable) nor write to fd 5.
"""

import builtins
import ctypes
import json
import linecache
import os
import traceback

try:  # inside the sandbox `_wire` comes bundled (see sandbox._role_source)
    from _wire import decode, encode, recv, send
except ModuleNotFoundError:  # imported as a module of the package
    from verification._wire import decode, encode, recv, send

REP, REQ, VERDICT, CONFIG, READY = 3, 4, 5, 6, 7


class Refused(BaseException):
    """The candidate did something that voids the run (BaseException: a test's `except` cannot hide it)."""


class CandidateError(Exception):
    pass


def _read_config():
    chunks = []
    while chunk := os.read(CONFIG, 1 << 20):
        chunks.append(chunk)
    os.close(CONFIG)
    return json.loads(b"".join(chunks))


def _exception(name, msg):
    """The candidate's exception as the same built-in type (tests may expect a ValueError), else generic."""
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(msg)
        except Exception:  # noqa: BLE001 - a built-in with a different constructor
            pass
    return CandidateError(f"{name}: {msg}")


class Candidate:
    """Stands for the entry point in the tests: each call runs in the candidate's process."""

    def __init__(self, name):
        self.__name__ = name
        self.void = None  # the first reason that voids the run, kept even if a test swallows it

    def _refuse(self, reason):
        self.void = self.void or reason
        raise Refused(reason)

    def _reply(self):
        try:
            msg = recv(REP)
        except Exception as e:  # noqa: BLE001 - anything malformed
            self._refuse(f"protocol error: {type(e).__name__}")
        if msg is None:
            self._refuse(
                "forged exit: the candidate's process ended instead of returning (os._exit or a crash)"
            )
        if type(msg) is not list or not msg or type(msg[0]) is not str:
            self._refuse("protocol error: malformed reply")
        return msg

    def start(self):
        msg = self._reply()
        if msg[0] == "exit":
            self._refuse(f"forged exit: SystemExit({msg[1]}) while loading the candidate")
        if msg[0] == "load_error":
            self._refuse(f"candidate failed to load: {msg[1]}")
        if msg[0] != "ready":
            self._refuse("protocol error: no ready message")

    def __call__(self, *args, **kwargs):
        if self.void:
            raise Refused(self.void)
        send(REQ, [self.__name__, encode(args), encode(kwargs)])
        msg = self._reply()
        kind = msg[0]
        if kind == "ok" and len(msg) == 2:
            try:
                return decode(msg[1])
            except Exception:  # noqa: BLE001 - e.g. an unhashable set element
                self._refuse("protocol error: a reply that is not plain data")
        if kind == "nonplain":
            self._refuse(f"non-plain return value: {str(msg[1])[:200]}")
        if kind == "exit":
            self._refuse(f"forged exit: the candidate raised SystemExit({str(msg[1])[:50]}) during a call")
        if kind == "raise" and len(msg) == 3:
            e = _exception(str(msg[1]), str(msg[2]))
            e.from_candidate = True
            raise e
        self._refuse("protocol error: unknown reply")


def _reason(e):
    if isinstance(e, Refused):
        return str(e)
    msg = f"{type(e).__name__}: {e}".rstrip(": ")
    where = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "test.py"]
    if isinstance(e, AssertionError) and where:
        msg += f" (test.py line {where[-1].lineno}: {(where[-1].line or '').strip()[:200]})"
    if getattr(e, "from_candidate", False) or isinstance(e, CandidateError):
        return f"candidate raised {msg}"[:500]
    return msg[:500]


def main():
    ctypes.CDLL(None).prctl(
        4, 0, 0, 0, 0
    )  # PR_SET_DUMPABLE 0: no ptrace, no /proc/pid/mem, before the config
    cfg = _read_config()
    nonce = cfg.pop("nonce")
    os.write(READY, b"r")  # the supervisor starts the candidate only now (see _sandbox_child)
    os.close(READY)
    cand = Candidate(cfg["entry_point"])
    passed, reason = False, "no verdict"
    try:
        cand.start()
        ns = {"__name__": "__main__"}
        try:  # a bare stub (`def add(a, b):` with no body) is no context at all
            context = compile(cfg["context"], "prompt.py", "exec")
        except SyntaxError:
            context = None
        if context is not None:
            exec(context, ns)
        ns[cfg["entry_point"]] = cand
        linecache.cache["test.py"] = (len(cfg["test"]), None, cfg["test"].splitlines(True), "test.py")
        exec(compile(cfg["test"], "test.py", "exec"), ns)
        if callable(ns.get("check")):
            ns["check"](cand)
        passed, reason = cand.void is None, cand.void or "passed"
    except BaseException as e:  # noqa: BLE001 - every way of failing becomes the reason
        passed, reason = False, cand.void or _reason(e)
    os.write(VERDICT, (json.dumps({"nonce": nonce, "passed": passed, "reason": reason}) + "\n").encode())
    os._exit(0)


if __name__ == "__main__":
    main()
