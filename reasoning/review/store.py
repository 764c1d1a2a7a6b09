"""The review decision log: one SQLite file, append-only, safe under several reviewers and servers at once.

Why SQLite: a real database file with transactions, no server to run, and WAL mode lets readers and one
writer proceed together; `busy_timeout` makes concurrent writers wait instead of failing. Every decision is
one INSERT committed before the reply is sent, so killing the server loses nothing that was acknowledged.
Rows are never changed: triggers refuse UPDATE and DELETE, and a reviewer's later decision on the same item
supersedes the earlier one only when reading (`latest`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ACTIONS = ("accept", "reject", "edit", "pick")
SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  item TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('sample', 'pair')),
  reviewer TEXT NOT NULL CHECK (length(reviewer) BETWEEN 1 AND 64),
  action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'edit', 'pick')),
  reason TEXT,
  answer TEXT,
  pick TEXT,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_item ON decisions (item, reviewer, id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
  BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
  BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""


@dataclass(frozen=True)
class Decision:
    id: int
    item: str
    kind: str
    reviewer: str
    action: str
    reason: str | None
    answer: str | None
    pick: str | None
    at: str


class DecisionLog:
    """Opens a connection per call: cheap for SQLite, and safe across the server's worker threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("PRAGMA synchronous=FULL")  # an acknowledged decision survives a power cut too
            yield con
        finally:
            con.close()

    def append(
        self,
        item: str,
        kind: str,
        reviewer: str,
        action: str,
        reason: str | None = None,
        answer: str | None = None,
        pick: str | None = None,
    ) -> int:
        """Insert one decision in its own transaction; returns its id once committed."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO decisions (item, kind, reviewer, action, reason, answer, pick, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item, kind, reviewer, action, reason, answer, pick, at),
            )
            return int(cur.lastrowid or 0)

    def all(self) -> list[Decision]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT id, item, kind, reviewer, action, reason, answer, pick, at FROM decisions ORDER BY id"
            ).fetchall()
        return [Decision(*r) for r in rows]

    def latest(self) -> dict[str, dict[str, Decision]]:
        """item → reviewer → that reviewer's most recent decision on it."""
        out: dict[str, dict[str, Decision]] = {}
        for d in self.all():
            out.setdefault(d.item, {})[d.reviewer] = d
        return out

    def fingerprint(self) -> tuple[int, int]:
        """(number of decisions, last id): changes whenever a decision is added (the stage's cache key)."""
        with self._connect() as con:
            n, last = con.execute("SELECT count(*), coalesce(max(id), 0) FROM decisions").fetchone()
        return int(n), int(last)


def read_fingerprint(path: Path) -> tuple[int, int]:
    """The fingerprint without creating anything: (0, 0) when there is no log yet."""
    if not Path(path).exists():
        return 0, 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        n, last = con.execute("SELECT count(*), coalesce(max(id), 0) FROM decisions").fetchone()
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        con.close()
    return int(n), int(last)
