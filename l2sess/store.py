"""What a node keeps on disk: its identity file and its state directory.

Every file is written atomically (a temporary file in the same directory,
fsync, rename, fsync of the directory), so a crash at any point leaves the
old version or the new one, never a mix. Secrets are created with mode
0600 and never printed.

state_dir/
    peers/<pk hex>.session   sealed StoredSession (PROTOCOL.md §10)
    peers/<pk hex>.json      {"stream": hex}: the peer's stream that blob received, for the inbox watermark
"""
from __future__ import annotations

import errno
import json
import os
import re
import stat
import time

from l2sess.identity import Identity

IDENTITY_FORMAT = "l2sess-identity/1"
# A fresh identity's prekey bundle lifetime: a year (the bundle is re-signed
# with a new expiry by rewriting not_after in the identity file).
PREKEY_LIFETIME = 365 * 24 * 3600
# An inbox line's first field: the stream id, 32 lowercase hex digits.
INBOX_STREAM = re.compile(rb"[0-9a-f]{32}")


def private(path: str, mode: int) -> None:
    """Takes group and other access away from a file or folder of ours that
    has it (made before, or under a looser umask); others' files are left."""
    st = os.stat(path)
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077 | (mode & 0o700))


def open_private_append(path: str):
    """A text file opened for appending, line-buffered, created 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        private(path, 0o600)
        return os.fdopen(fd, "a", buffering=1)
    except BaseException:
        os.close(fd)
        raise


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replaces path with data so that a crash leaves the old or the new file."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def create_identity(path: str) -> Identity:
    """Makes a new identity file (mode 0600; refuses to overwrite one)."""
    ident = Identity.generate(PREKEY_LIFETIME)
    record = {"format": IDENTITY_FORMAT, "seed": ident.seed.hex(), "prekey_not_after": ident.prekey_not_after}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return ident


def load_identity(path: str) -> Identity:
    """Reads an identity file; refuses one that others may read. Raises
    OSError when it cannot be read, ValueError (naming path) when it is not an
    identity file."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: not a file")
    if st.st_mode & 0o077:
        raise PermissionError(f"{path}: identity file mode {st.st_mode & 0o777:o}, must be 0600")
    if st.st_uid != os.geteuid():
        raise PermissionError(f"{path}: identity file owned by uid {st.st_uid}, not by uid {os.geteuid()} "
                              f"that the node runs as")
    with open(path, "rb") as f:
        data = f.read()
    try:
        record = json.loads(data)
        if record.get("format") != IDENTITY_FORMAT:
            raise ValueError
        return Identity(bytes.fromhex(record["seed"]), int(record["prekey_not_after"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{path}: not an {IDENTITY_FORMAT} file") from None


def load_or_create_identity(path: str) -> tuple[Identity, bool]:
    """The identity in path, created on first use. Returns (identity, created)."""
    try:
        return load_identity(path), False
    except FileNotFoundError:
        return create_identity(path), True


class StateDir:
    """The node's resumption state, one set of files per peer."""

    def __init__(self, path: str):
        self.path = path
        self.peers = os.path.join(path, "peers")
        if os.path.exists(path) and not os.path.isdir(path):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.makedirs(self.peers, mode=0o700, exist_ok=True)
        for d in (path, self.peers):  # which peers, and their keys: for this user only
            private(d, 0o700)
        # Refused now rather than at the first checkpoint, when sessions are up.
        if not os.access(self.peers, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not writable", self.peers)

    def _file(self, pk: bytes, ext: str) -> str:
        return os.path.join(self.peers, f"{pk.hex()}.{ext}")

    def save_session(self, pk: bytes, blob: bytes, stream: str) -> None:
        # The id first: a crash between the two leaves an id that names a
        # newer blob than the old one, which only makes the watermark apply
        # to a stream that is not being imported (harmless).
        write_atomic(self._file(pk, "json"), json.dumps({"stream": stream}).encode())
        write_atomic(self._file(pk, "session"), blob)

    def load_session(self, pk: bytes) -> tuple[bytes, str] | None:
        try:
            with open(self._file(pk, "session"), "rb") as f:
                blob = f.read()
            with open(self._file(pk, "json")) as f:
                saved = json.load(f)
            # Before streams the inbox was keyed by session id.
            stream = saved["stream"] if "stream" in saved else saved["session_id"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        return blob, stream


def inbox_watermarks(path: str) -> dict[str, int]:
    """The highest seq delivered per stream of a peer in an inbox file (PROTOCOL.md §12).
    A torn last line (a crash mid-write) is ignored: its message was not
    acknowledged, so it comes again. So is a line that is not an inbox line
    (damage): the node starts rather than stop on it."""
    marks: dict[str, int] = {}
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return marks
    with f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            parts = line.split(b" ")
            if len(parts) != 4 or not INBOX_STREAM.fullmatch(parts[0]) or not parts[1].isdigit():
                continue
            sid, seq = parts[0].decode(), int(parts[1])
            if seq > marks.get(sid, 0):
                marks[sid] = seq
    return marks


def read_inbox(path: str) -> list[tuple[str, int, bytes, bytes]]:
    """Every whole line of an inbox as (stream, seq, peer_pk, payload)."""
    out = []
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            sid, seq, pk, payload = line.rstrip(b"\n").split(b" ")
            out.append((sid.decode(), int(seq), bytes.fromhex(pk.decode()), bytes.fromhex(payload.decode())))
    return out


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
