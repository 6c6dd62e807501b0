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
from collections.abc import Iterator
from typing import TextIO

from l2sess.identity import Identity

IDENTITY_FORMAT = "l2sess-identity/1"
# A prekey bundle's lifetime: a year. The running node renews it well
# before it ends (l2sess/node/runner.py).
PREKEY_LIFETIME = 365 * 24 * 3600
# An inbox line's first field: the stream id, 32 lowercase hex digits.
INBOX_STREAM = re.compile(rb"[0-9a-f]{32}")
INBOX_PK = re.compile(rb"[0-9a-f]{64}")
INBOX_HEX = re.compile(rb"(?:[0-9a-f]{2})*")
# inbox_watermarks names this many damaged lines, then counts the rest
MAX_PROBLEMS = 20
# A sender restored from a checkpoint steps its seqs over at most this many
# (L2S_DELIVERY_SEQ_RESERVE, PROTOCOL.md §5): a jump that long is no damage.
STEP_OVER = 1 << 20


def private(path: str, mode: int) -> None:
    """Takes group and other access away from a file or folder of ours that
    has it (made before, or under a looser umask); others' files are left."""
    st = os.stat(path)
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077 | (mode & 0o700))


def open_private_append(path: str) -> TextIO:
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


def identity_record(ident: Identity) -> bytes:
    """The identity file's contents: {"format", "seed", "prekey_not_after"},
    and after a renewal "prekey_seed", "previous_prekey_seed" and
    "previous_prekey_not_after" (a prekey not derived from the seed)."""
    record: dict[str, object] = {"format": IDENTITY_FORMAT, "seed": ident.seed.hex(),
                                 "prekey_not_after": ident.prekey_not_after}
    if ident.prekey_seed != Identity(ident.seed).prekey_seed:
        record["prekey_seed"] = ident.prekey_seed.hex()
    if ident.previous_prekey is not None:
        record["previous_prekey_seed"] = ident.previous_prekey[0].hex()
        record["previous_prekey_not_after"] = ident.previous_prekey[1]
    return (json.dumps(record) + "\n").encode()


def create_identity(path: str) -> Identity:
    """Makes a new identity file (mode 0600; refuses to overwrite one)."""
    ident = Identity.generate(PREKEY_LIFETIME)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, identity_record(ident))
        os.fsync(fd)
    finally:
        os.close(fd)
    return ident


def save_identity(path: str, ident: Identity) -> None:
    """Replaces the identity file (a renewed prekey), atomically."""
    write_atomic(path, identity_record(ident))


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
        prekey = bytes.fromhex(record["prekey_seed"]) if "prekey_seed" in record else None
        previous = (bytes.fromhex(record["previous_prekey_seed"]), int(record["previous_prekey_not_after"])) \
            if "previous_prekey_seed" in record else None
        return Identity(bytes.fromhex(record["seed"]), int(record["prekey_not_after"]), prekey_seed=prekey,
                        previous_prekey=previous)
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


def rotated_files(path: str) -> list[str]:
    """path and its rotated files that exist, oldest first: path.N … path.1, path."""
    directory, name = os.path.split(os.path.abspath(path))
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    numbered = sorted((int(n[len(name) + 1:]), n) for n in names
                      if n.startswith(name + ".") and n[len(name) + 1:].isdigit())
    files = [os.path.join(directory, n) for _, n in reversed(numbered)]
    return files + ([os.path.abspath(path)] if name in names else [])


def rotate(path: str, keep: int) -> None:
    """path.(keep-1) → path.keep … path → path.1; the oldest goes."""
    for i in range(keep - 1, 0, -1):
        try:
            os.replace(f"{path}.{i}", f"{path}.{i + 1}")
        except FileNotFoundError:
            pass
    os.replace(path, f"{path}.1")


def _inbox_lines(path: str) -> Iterator[tuple[str, int, str, int, bytes, bytes] | None]:
    """(file, line number, stream, seq, peer_pk hex, payload hex) of every line
    that parses, and None for each that does not; a torn last line (a crash
    mid-write) ends a file."""
    for name in rotated_files(path):
        with open(name, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    break
                parts = parse_inbox_line(line)
                yield (name, number, *parts) if parts else None


def parse_inbox_line(line: bytes) -> tuple[str, int, bytes, bytes] | None:
    """(stream, seq, peer_pk hex, payload hex) of a whole inbox line, None
    when it does not parse."""
    parts = line.rstrip(b"\n").split(b" ")
    if (len(parts) != 4 or not INBOX_STREAM.fullmatch(parts[0]) or not parts[1].isdigit()
            or not 0 < int(parts[1]) < 1 << 64 or not INBOX_PK.fullmatch(parts[2])
            or not INBOX_HEX.fullmatch(parts[3])):
        return None
    return parts[0].decode(), int(parts[1]), parts[2], parts[3]


def inbox_watermarks(path: str, owners: dict[str, str] | None = None) -> tuple[dict[str, int], list[str]]:
    """The highest seq delivered per stream of a peer in an inbox and its
    rotated files (PROTOCOL.md §12), and what was wrong in them, one line each.
    owners, when given, gets each stream's peer (public key, hex), in the
    order the streams first appear (oldest first).

    A stream's lines follow each other seq by seq, or jump ahead by at most
    STEP_OVER (a sender restored from a checkpoint steps over the seqs it
    may have used), so a seq that goes back or jumps further is damage: the
    stream's lines form runs (a run goes on after a bad line), and the run
    with the most lines (the later of equals) gives the watermark. So one
    inflated seq cannot make the node skip new messages, and the node starts
    rather than stop on a damaged line."""
    runs: dict[str, list[tuple[int, int]]] = {}   # per stream: (first, last) of each run
    junk_at: dict[str, int] = {}                  # lines unparsed when the stream's last line came
    junk = breaks = 0
    problems: list[str] = []
    for item in _inbox_lines(path):
        if item is None:
            junk += 1
            continue
        name, number, sid, seq, pk, _ = item
        if owners is not None:
            owners.setdefault(sid, pk.decode())
        mine = runs.setdefault(sid, [])
        if mine and mine[-1][1] < seq <= mine[-1][1] + 1 + STEP_OVER + junk - junk_at[sid]:
            mine[-1] = (mine[-1][0], seq)
        elif any(run[1] < seq <= run[1] + 1 + STEP_OVER for run in mine):  # a run goes on after a bad line
            i = max(i for i, run in enumerate(mine) if run[1] < seq <= run[1] + 1 + STEP_OVER)
            mine.append((mine.pop(i)[0], seq))
        else:
            if mine:
                breaks += 1
                if breaks <= MAX_PROBLEMS:
                    problems.append(f"{name}:{number}: stream {sid} seq {seq} does not follow seq {mine[-1][1]}")
            mine.append((seq, seq))
        junk_at[sid] = junk
    if breaks > MAX_PROBLEMS:
        problems.append(f"{breaks - MAX_PROBLEMS} more inbox line(s) out of sequence")
    if junk:
        problems.append(f"{junk} inbox line(s) do not parse")
    marks = {}
    for sid, mine in runs.items():
        first, last = max(reversed(mine), key=lambda run: run[1] - run[0])
        marks[sid] = last
        if len(mine) > 1:
            problems.append(f"stream {sid}: delivered up to seq {last} (the run from seq {first})")
    return marks, problems


def read_inbox(path: str) -> list[tuple[str, int, bytes, bytes]]:
    """Every whole line of an inbox and its rotated files, oldest first, as
    (stream, seq, peer_pk, payload); lines that do not parse are left out."""
    return [(sid, seq, bytes.fromhex(pk.decode()), bytes.fromhex(payload.decode()))
            for _, _, sid, seq, pk, payload in filter(None, _inbox_lines(path))]

