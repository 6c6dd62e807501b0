"""The running node's two kinds of log.

Log: what an operator reads as it happens, on stderr, one line per record,
with a level (error, warning, info, debug) and either text or JSON lines.

JsonLog: the audit and delivery logs, files of JSON lines that rotate.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import IO, Any

from l2sess.node.store import open_private_append, rotate

LEVELS = ("error", "warning", "info", "debug")


def rfc3339(unix_s: float) -> str:
    """UTC, millisecond precision: 2026-12-03T12:55:56.123Z. One reading of
    the clock makes both parts, so a time never goes back by a second."""
    ms = int(unix_s * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def utc_now() -> str:
    return rfc3339(time.time())


class Log:
    """Records at or above `level` to `stream`: text ("time LEVEL message
    key=value ...") or, with as_json, one JSON object per line."""

    def __init__(self, level: str = "info", as_json: bool = False, stream: IO[str] | None = None):
        if level not in LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
        self.threshold = LEVELS.index(level)
        self.as_json = as_json
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()

    def enabled(self, level: str) -> bool:
        return LEVELS.index(level) <= self.threshold

    def __call__(self, level: str, message: str, **fields: Any) -> None:
        if not self.enabled(level):
            return
        now = utc_now()
        if self.as_json:
            line = json.dumps({"time": now, "level": level, "msg": message, **fields})
        else:
            extra = "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
            line = f"{now} {level.upper():7} {message}{extra}".replace("\n", " ")
        with self._lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed or full: the node goes on
                pass

    def error(self, message: str, **fields: Any) -> None:
        self("error", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self("warning", message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self("info", message, **fields)

    def debug(self, message: str, **fields: Any) -> None:
        self("debug", message, **fields)


class JsonLog:
    """An append-only JSON-lines file, flushed per record, that rotates before
    it passes max_bytes (0: never), keeping `keep` older files (path.1 the
    newest). A record the disk refuses (full, read-only) is counted, not
    raised: the node goes on, and status and metrics show the count and the
    last error."""

    def __init__(self, path: str | None, max_bytes: int = 0, keep: int = 1):
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self.failures = 0
        self.last_error: str | None = None
        self._size = 0
        self._f: IO[str] | None = self._open() if path else None

    def _open(self) -> IO[str]:
        assert self.path is not None
        f: IO[str] = open_private_append(self.path)
        self._size = os.fstat(f.fileno()).st_size
        return f

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps({"time": utc_now(), **record}) + "\n"
        with self._lock:
            try:
                if self._f is None:
                    self._f = self._open()
                size = len(line.encode())
                if self.max_bytes and self._size and self._size + size > self.max_bytes:
                    self._drop_file()
                    rotate(self.path, self.keep)
                    self._f = self._open()
                self._f.write(line)
                self._f.flush()
                self._size += size
            except OSError as exc:
                self.failures += 1
                self.last_error = exc.strerror or str(exc)
                self._drop_file()

    def _drop_file(self) -> None:
        # What a failed write left in the file object's buffer goes with it;
        # the next record opens the file anew.
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def reopen(self) -> None:
        """After logrotate moved the file away (SIGHUP): the next record
        goes to a new file at path."""
        with self._lock:
            self._drop_file()

    def close(self) -> None:
        with self._lock:
            self._drop_file()
