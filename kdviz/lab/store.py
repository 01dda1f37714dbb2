"""The lab's run store: an SQLite database (stdlib ``sqlite3``) in the data folder.

The data folder is ``$KDVIZ_DATA`` when that variable is set, else ``~/.kdviz``; the database is
``lab.sqlite3`` in it. A run is one row of ``runs`` (its configuration and status) and, once it has
finished, its metrics, curves and samples in three tables, all written in one transaction with
the status ``done``: a reader sees a run complete or not at all.

A run is started by a process (``owner`` = host, pid and a per-process token). A run still
``running`` whose owner process is gone (a server stopped mid-run) is marked ``interrupted`` the
next time a store is opened, and a process marks its own unfinished runs at exit.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path

STATUSES = ("running", "done", "interrupted", "failed")
_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'interrupted', 'failed')),
    owner TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,        -- JSON of LabConfig
    summary TEXT,                -- JSON: references (teacher, untrained), prompts, timings
    error TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    student TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, student, metric)
);
CREATE TABLE IF NOT EXISTS curves (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    student TEXT NOT NULL, metric TEXT NOT NULL, step INTEGER NOT NULL, value REAL,
    PRIMARY KEY (run_id, student, metric, step)
);
CREATE TABLE IF NOT EXISTS samples (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    student TEXT NOT NULL, idx INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (run_id, student, idx)
);
CREATE TABLE IF NOT EXISTS students (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    student TEXT NOT NULL, pos INTEGER NOT NULL, divergence TEXT NOT NULL, params TEXT NOT NULL,
    PRIMARY KEY (run_id, student)
);
"""


def data_dir() -> Path:
    """``$KDVIZ_DATA`` or ``~/.kdviz`` (created on first use)."""
    return Path(os.environ.get("KDVIZ_DATA") or Path.home() / ".kdviz").expanduser()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _owner_alive(owner: str) -> bool:
    """Whether the process that started a run may still be running it."""
    if owner == _OWNER:
        return True
    host, pid, _token = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return True  # another machine's process: nothing to tell from here, leave the run alone
    if int(pid) == os.getpid():
        return False  # an earlier process that had this pid
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to another user
        return True
    return True


class RunStore:
    """Runs in ``<data folder>/lab.sqlite3`` (or ``path``). Open one per thread; cheap."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else data_dir() / "lab.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # explicit transactions
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)
        self.recover()

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ writing
    def start(self, config: dict, label: str = "", owner: str = _OWNER) -> int:
        """A new ``running`` run; returns its id."""
        cur = self.db.execute("INSERT INTO runs (created, status, owner, label, config) "
                              "VALUES (?, 'running', ?, ?, ?)",
                              (_now(), owner, label, json.dumps(config)))
        _unfinished[cur.lastrowid] = str(self.path)
        return cur.lastrowid

    def finish(self, run_id: int, result: dict) -> None:
        """Store a finished run's students, metrics, curves and samples, and mark it ``done``, atomically."""
        summary = {k: v for k, v in result.items() if k not in ("results", "config")}
        with self._transaction():
            if self._status(run_id) != "running":
                raise ValueError(f"run {run_id} is not running, got status {self._status(run_id)!r}")
            for pos, (student, r) in enumerate(result["results"].items()):
                self.db.execute("INSERT INTO students VALUES (?, ?, ?, ?, ?)",
                                (run_id, student, pos, r["divergence"], json.dumps(r["params"])))
                self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)",
                                    [(run_id, student, k, v) for k, v in r["metrics"].items()])
                self.db.executemany(
                    "INSERT INTO curves VALUES (?, ?, ?, ?, ?)",
                    [(run_id, student, k, s, v) for k, vals in r["curve"].items() if k != "step"
                     for s, v in zip(r["curve"]["step"], vals)])
                self.db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)",
                                    [(run_id, student, i, t) for i, t in enumerate(r["samples"])])
            self.db.execute("UPDATE runs SET status = 'done', finished = ?, summary = ? WHERE id = ?",
                            (_now(), json.dumps(summary), run_id))
        _unfinished.pop(run_id, None)

    def fail(self, run_id: int, status: str, error: str = "") -> None:
        """Mark a run that did not finish ``interrupted`` or ``failed`` (nothing else is written)."""
        if status not in ("interrupted", "failed"):
            raise ValueError(f"status must be interrupted or failed, got {status!r}")
        self.db.execute("UPDATE runs SET status = ?, finished = ?, error = ? "
                        "WHERE id = ? AND status = 'running'",
                        (status, _now(), error, run_id))
        _unfinished.pop(run_id, None)

    def recover(self) -> list[int]:
        """Mark ``interrupted`` every running run whose owner process is gone; returns their ids."""
        gone = [rid for rid, owner in self.db.execute("SELECT id, owner FROM runs WHERE status = 'running'")
                if not _owner_alive(owner)]
        for rid in gone:
            self.fail(rid, "interrupted", "the process running it stopped")
        return gone

    def delete(self, run_id: int) -> None:
        self.db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # ------------------------------------------------------------------ reading
    def _status(self, run_id: int) -> str | None:
        row = self.db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def list_runs(self, status: str | None = None) -> list[dict]:
        """Newest first: id, created, finished, status, label, config, error."""
        query = "SELECT id, created, finished, status, label, config, error FROM runs"
        rows = self.db.execute(query + (" WHERE status = ?" if status else "") + " ORDER BY id DESC",
                               (status,) if status else ()).fetchall()
        return [{"id": r[0], "created": r[1], "finished": r[2], "status": r[3], "label": r[4],
                 "config": json.loads(r[5]), "error": r[6]} for r in rows]

    def load(self, run_id: int) -> dict:
        """A run in the shape :func:`kdviz.lab.train.run_lab` returns, plus ``id``, ``status``,
        ``created`` and ``label``. Runs that did not finish have empty ``results``."""
        row = self.db.execute("SELECT created, status, label, config, summary FROM runs WHERE id = ?",
                              (run_id,)).fetchone()
        if row is None:
            raise ValueError(f"no run with id {run_id!r} in {self.path}")
        out = {"id": run_id, "created": row[0], "status": row[1], "label": row[2],
               "config": json.loads(row[3]),
               **json.loads(row[4] or "{}"), "results": {}}
        for student, div, params in self.db.execute(
                "SELECT student, divergence, params FROM students WHERE run_id = ? ORDER BY pos", (run_id,)):
            out["results"][student] = {"divergence": div, "params": json.loads(params), "metrics": {},
                                       "curve": {"step": []}, "samples": []}
        for student, metric, value in self.db.execute(
                "SELECT student, metric, value FROM metrics WHERE run_id = ?", (run_id,)):
            out["results"][student]["metrics"][metric] = value
        for student, metric, step, value in self.db.execute(
                "SELECT student, metric, step, value FROM curves WHERE run_id = ? "
                "ORDER BY student, metric, step",
                (run_id,)):
            curve = out["results"][student]["curve"]
            curve.setdefault(metric, []).append(value)
            if metric == "fkl":
                curve["step"].append(step)
        for student, text in self.db.execute(
                "SELECT student, text FROM samples WHERE run_id = ? ORDER BY student, idx", (run_id,)):
            out["results"][student]["samples"].append(text)
        return out

    # ------------------------------------------------------------------ helpers
    def _transaction(self):
        store = self

        class _Tx:
            def __enter__(self):
                store.db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *rest):
                store.db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()


_unfinished: dict[int, str] = {}  # run id -> database path, runs this process started and has not ended


@atexit.register
def _mark_unfinished_at_exit() -> None:
    """A process that stops (a server shut down mid-run) marks its own unfinished runs ``interrupted``."""
    for run_id, path in list(_unfinished.items()):
        try:
            with sqlite3.connect(path, timeout=5) as db:
                db.execute("UPDATE runs SET status = 'interrupted', finished = ?, error = ? "
                           "WHERE id = ? AND status = 'running'", (_now(), "the process stopped", run_id))
        except sqlite3.Error:  # the folder may be gone at exit; recover() marks it on the next start
            pass
