#!/usr/bin/env python3
"""Generates the operator's reference from the objects the code itself uses,
so that it cannot say something the code does not do:

    docs/man/l2sess.1           from build_parser() (l2sess/node/cli.py) and cli.py's exit codes
    docs/man/node.toml.5        from the schema of l2sess/node/config.py (NODE, SESSION, LOOP, PEER, the rules)
    docs/completion/l2sess.bash from build_parser()
    docs/NODE.md                the part between GEN_BEGIN and GEN_END: the node.toml key tables

    scripts/gen_docs.py             rewrite them in the checkout (make man)
    scripts/gen_docs.py --out DIR   write them under DIR instead (man/, completion/, NODE.md)

tests/python/test_gen_docs.py regenerates into a temporary directory and
compares: a change to the parser or the schema without `make man` fails
there. The prose around the generated data (DESCRIPTION, FILES, SIGNALS, the
tables' introductions) is written here once; the data is not.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from l2sess import __version__  # noqa: E402
from l2sess.node import cli, config  # noqa: E402
from l2sess.node.config import Key  # noqa: E402
from l2sess.session import MAX_DURATION  # noqa: E402

GEN_BEGIN = "<!-- generated: node.toml keys (scripts/gen_docs.py, `make man`); do not edit by hand -->"
GEN_END = "<!-- end generated -->"
OUTPUTS = {"man/l2sess.1": "docs/man/l2sess.1", "man/node.toml.5": "docs/man/node.toml.5",
           "completion/l2sess.bash": "docs/completion/l2sess.bash", "NODE.md": "docs/NODE.md"}

# Per table: its heading in NODE.md and node.toml(5), and a line on what it is.
TABLE_INTRO = {
    "node": "The node itself: where it listens, its files, what it accepts.",
    "session": "The sessions' timers and limits: SessionConfig in Python, `struct l2s_config` in C "
               "(milliseconds there). docs/STATE_MACHINE.md says where each one acts. The engine works in "
               "whole milliseconds, so a duration is rounded to one.",
    "loop": "The event loop's tunables: `struct l2s_loop_params` (csrc/include/l2s_loop.h) and the QUIC "
            "and μTCP limits under it.",
    "peers": f"One table per peer, at most {config.MAX_PEERS}.",
}
# What load_config checks outside the Key entries, by (table, key).
EXTRA_RANGE = {
    ("node", "control"): f"at most {config.MAX_SOCKET_PATH} bytes",
    ("peers", "did"): "required; each DID once",
    ("peers", "address"): "required when `connect = true`",
}


# ---- the schema, as text ------------------------------------------------------------------

def number(v: float) -> str:
    """A bound as people read it: 2⁶⁴−1, 100 years, 60000."""
    if v == MAX_DURATION:
        return "100 years"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int) and v > 1 << 20 and (v + 1) & v == 0:
        return "2" + str(v.bit_length()).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")) + "−1"
    return str(v)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


KIND_TYPE = {"boolean": "boolean", "integer": "integer", "seconds": "number", "path": "string (path)",
             "address": "string (host:port)", "transports": "array of strings", "did": "string (did:key)"}


def rules_for(table: str) -> list[tuple[str, str, str]]:
    return {"session": list(config.SESSION_RULES), "loop": list(config.LOOP_RULES)}.get(table, [])


def key_range(table: str, name: str, key: Key) -> str:
    """The values key takes, with its unit and the rules that bound it."""
    parts = []
    unit = f" {key.unit}" if key.unit else ""
    if key.kind in ("integer", "seconds"):
        assert key.lo is not None and key.hi is not None
        hi = number(key.hi)
        # "100 years" carries its own unit
        parts.append(f"{number(key.lo)}{unit} – {hi}" if not hi[-1].isdigit() else f"{number(key.lo)} – {hi}{unit}")
    elif key.kind == "address":
        parts.append(f"port {number(key.lo or 0)} – {number(key.hi or 65535)}")
    elif key.kind == "transports":
        parts.append(", ".join(f'`"{t}"`' for t in config.TRANSPORTS) + ", each at most once, not empty")
    elif key.kind == "did":
        parts.append("an Ed25519 did:key")
    for a, op, b in rules_for(table):
        if a == name:
            parts.append(f"below `{b}`" if op == "<" else f"at least `{b}`")
    if (table, name) in EXTRA_RANGE:
        parts.append(EXTRA_RANGE[(table, name)])
    return ", ".join(parts)


def schemas() -> dict[str, dict[str, Key]]:
    return {**config.TABLES, "peers": config.PEER}


def heading(table: str) -> str:
    return "[[peers]]" if table == "peers" else f"[{table}]"


def rules_text() -> list[str]:
    """Every rule between keys load_config enforces, one sentence each (markdown)."""
    out = []
    for table in ("session", "loop"):
        for a, op, b in rules_for(table):
            relation = "must be below" if op == "<" else "must be at least"
            out.append(f"`[{table}] {a}` {relation} `{b}`" +
                       (" (compared in whole milliseconds)" if table == "session" else "") + ".")
    out.append(f"`[node] control` (or its default, `state_dir/control.sock`) is at most "
               f"{config.MAX_SOCKET_PATH} bytes: a Unix socket's path.")
    out.append("`[[peers]]` `address` is required when `connect` is true (its default).")
    out.append(f"A DID is listed under `[[peers]]` at most once; at most {config.MAX_PEERS} peers.")
    out.append("Unknown tables and keys are refused (with the closest known name), never ignored.")
    return out


# ---- NODE.md ----------------------------------------------------------------------------

def md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def node_md_section() -> str:
    lines = [GEN_BEGIN, ""]
    for table, schema in schemas().items():
        lines += [f"### {heading(table)}", "", TABLE_INTRO[table], "",
                  "| key | type | default | range | meaning |", "|---|---|---|---|---|"]
        for name, key in schema.items():
            default = "—" if key.default is None else f"`{toml_value(key.default)}`"
            lines.append(f"| `{name}` | {KIND_TYPE[key.kind]} | {default} | {md_cell(key_range(table, name, key))} "
                         f"| {md_cell(key.doc)} |")
        lines.append("")
    lines += ["### Rules between keys", "", "`load_config` refuses a file that breaks one, naming both keys:", ""]
    lines += [f"* {r}" for r in rules_text()]
    lines += ["", GEN_END]
    return "\n".join(lines)


def node_md(current: str) -> str:
    begin, end = current.find(GEN_BEGIN), current.find(GEN_END)
    if begin < 0 or end < begin:
        raise SystemExit(f"docs/NODE.md: no {GEN_BEGIN!r} … {GEN_END!r} markers")
    return current[:begin] + node_md_section() + current[end + len(GEN_END):]


# ---- roff -------------------------------------------------------------------------------

ROFF_CHARS = {"μ": r"\(*m", "→": r"\(->", "—": r"\(em", "–": r"\(en", "−": r"\(mi", "×": r"\(mu",
              "≤": r"\(<=", "≥": r"\(>=", "’": r"\(cq", "…": r"\&...", "µ": r"\(mc"}
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def roff(text: str) -> str:
    """Plain text as roff: backslashes, dashes, non-ASCII and `code` marks."""
    text = re.sub(r"2([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "2^" + m[1].translate(SUPERSCRIPT), text)
    out = []
    for ch in text.replace("\\", "\\e").replace("-", "\\-"):
        if ch in ROFF_CHARS:
            out.append(ROFF_CHARS[ch])
        elif ord(ch) > 126:
            out.append(f"\\[u{ord(ch):04X}]")
        else:
            out.append(ch)
    s = "".join(out)
    s = re.sub(r"`([^`]*)`", r"\\fB\1\\fR", s)
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def roff_lines(text: str) -> str:
    return "\n".join(roff(line) for line in text.split("\n"))


# ---- the parser -------------------------------------------------------------------------

def sentence(text: str) -> str:
    """text with a capital, unless it starts with a name (node.toml, a command: `run:`)."""
    first = text.split(" ", 1)[0]
    if not text or "." in first or first.endswith(":") or not first.isalpha():
        return text
    return text[:1].upper() + text[1:]


def subparsers(ap: argparse.ArgumentParser) -> tuple[dict[str, argparse.ArgumentParser], dict[str, str]]:
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {c.dest: c.help or "" for c in sub._choices_actions}
    return dict(sub.choices), helps


def visible(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]


def required_positional(p: argparse.ArgumentParser, a: argparse.Action) -> bool:
    """A positional is optional to argparse only so that an older spelling
    (a hidden option with the same metavar, send --to DID) can stand for it."""
    if a.nargs != "?":
        return True
    return any(o.option_strings and o.help == argparse.SUPPRESS and o.metavar == a.metavar for o in p._actions)


def value_name(a: argparse.Action) -> str | None:
    if a.nargs == 0:
        return None
    if a.choices:
        return "|".join(str(c) for c in a.choices)
    return str(a.metavar or a.dest.upper())


def default_of(a: argparse.Action) -> str | None:
    """The default, when the help does not say it already."""
    if a.nargs == 0 or a.default in (None, argparse.SUPPRESS) or "default" in (a.help or ""):
        return None
    return f"{a.default:g}" if isinstance(a.default, float) else str(a.default)


def synopsis_parts(p: argparse.ArgumentParser) -> list[tuple[str, str | None, bool]]:
    """(name, value, optional) of every visible argument, positionals first."""
    parts = []
    for a in visible(p):
        if not a.option_strings:
            parts.append((str(a.metavar or a.dest), None, not required_positional(p, a)))
    for a in visible(p):
        if a.option_strings:
            parts.append((a.option_strings[-1], value_name(a), True))
    return parts


def uses_config(p: argparse.ArgumentParser) -> bool:
    return any("--config" in a.option_strings for a in p._actions)


def exit_codes() -> list[tuple[int, str]]:
    """The exit codes as cli.py's docstring lists them, checked against its EXIT_* constants."""
    doc = cli.__doc__ or ""
    m = re.search(r"Exit codes \(EXIT_\* below\):\s*(.*?)\.\s+See ", doc, re.S)
    if not m:
        raise SystemExit("l2sess/node/cli.py: its docstring lists no exit codes ('Exit codes (EXIT_* below): ...')")
    text = " ".join(m[1].split())
    codes = [(int(c), meaning.strip()) for c, meaning in re.findall(r"(\d+) (.*?)(?:;|$)(?= \d |$)", text)]
    constants = sorted(v for k, v in vars(cli).items() if k.startswith("EXIT_") and isinstance(v, int))
    if [c for c, _ in codes] != constants:
        raise SystemExit(f"cli.py's docstring lists exit codes {[c for c, _ in codes]}, its EXIT_* are {constants}")
    return codes


# ---- l2sess.1 ---------------------------------------------------------------------------

def th(name: str, section: int, title: str) -> list[str]:
    return [f'.\\" Generated by scripts/gen_docs.py (make man); do not edit by hand.',
            f'.TH {name} {section} "" "l2sess {__version__}" "{title}"']


def man_synopsis(prog: str, name: str, p: argparse.ArgumentParser) -> str:
    words = [f"\\fB{prog}\\fR", f"\\fB{name}\\fR"]
    for opt, value, optional in synopsis_parts(p):
        if opt in ("--config",):
            continue  # the global option, said once
        w = f"\\fB{roff(opt)}\\fR" if opt.startswith("-") else f"\\fI{roff(opt)}\\fR"
        if value:
            w += f" \\fI{roff(value)}\\fR"
        words.append(f"[{w}]" if optional else w)
    return " ".join(words)


def option_item(a: argparse.Action) -> list[str]:
    names = ", ".join(f"\\fB{roff(o)}\\fR" for o in a.option_strings) if a.option_strings \
        else f"\\fI{roff(str(a.metavar or a.dest))}\\fR"
    value = value_name(a)
    if value and a.option_strings:
        names += f" \\fI{roff(value)}\\fR"
    help_text = (a.help or "").replace("%(prog)s", cli.PROG)
    d = default_of(a)
    if d is not None:
        help_text += f" (default: {d})"
    return [".TP", names, roff(sentence(help_text)) + "."]


def l2sess_1() -> str:
    ap = cli.build_parser()
    commands, helps = subparsers(ap)
    with_config = [n for n, p in commands.items() if uses_config(p)]
    without = [n for n, p in commands.items() if not uses_config(p)]
    codes = exit_codes()
    desc = (ap.description or "").split(": ", 1)[-1]
    n = config.NODE
    out = th("L2SESS", 1, "l2sess manual")
    out += [".SH NAME", f"{cli.PROG} \\- {roff(desc)}",
            ".SH SYNOPSIS", f"\\fB{cli.PROG}\\fR [\\fB\\-c\\fR \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
            ".br", f"\\fB{cli.PROG} \\-\\-version\\fR | \\fB\\-\\-help\\fR",
            ".SH DESCRIPTION",
            roff(f"{cli.PROG} runs an l2sess node (a gateway: one identity, QUIC and μTCP on one port, "
                 f"post-quantum sessions to its peers) and drives a running one through its control socket."),
            ".PP",
            roff("Commands that read node.toml: " + ", ".join(with_config) + ". They take it from --config "
                 f"FILE (before or after the command), else $L2SESS_CONFIG, else {cli.DEFAULT_CONFIG}, and check "
                 "it against its schema (node.toml(5)) before they act: a mistake is one line on stderr naming "
                 "the file and the key, and exit status 2. These need none: " + ", ".join(without) + "."),
            ".PP",
            roff("The commands that ask the running node (all but keygen, did, run, recv and version) talk to "
                 "it on its control socket, [node] control; when nothing answers there they exit with 3."),
            ".SH OPTIONS"]
    for a in visible(ap):
        if not isinstance(a, argparse._SubParsersAction):
            out += option_item(a)
    out += [".TP", "\\fB\\-h\\fR, \\fB\\-\\-help\\fR", "Print the usage (of a command, after it) and exit."]
    out.append(".SH COMMANDS")
    for name, p in commands.items():
        out += [".SS " + roff(name), man_synopsis(cli.PROG, name, p), ".PP",
                roff(sentence(helps[name])) + "."]
        items = [a for a in visible(p) if "--config" not in a.option_strings]
        for a in items:
            out += option_item(a)
        if name in COMMAND_NOTES:
            out += [".PP", roff(COMMAND_NOTES[name])]
    out.append(".SH EXIT STATUS")
    for code, meaning in codes:
        out += [".TP", f"\\fB{code}\\fR", roff(sentence(meaning)) + "."]
    out += [".SH ENVIRONMENT", ".TP", "\\fBL2SESS_CONFIG\\fR",
            roff(f"The node.toml to read when --config is not given (else {cli.DEFAULT_CONFIG})."),
            ".SH FILES", ".TP", roff(cli.DEFAULT_CONFIG),
            roff("The node's configuration, node.toml(5). Relative paths in it are taken from its directory."),
            ".TP", f"\\fI{roff(n['identity'].default)}\\fR",
            roff("The identity file ([node] identity; keygen's default, in the current directory): the secret "
                 "keys behind the node's DID. Mode 0600, owned by the node's user."),
            ".TP", f"\\fI{roff(n['state_dir'].default)}/\\fR",
            roff("[node] state_dir: the saved sessions (peers/*.session), the lock that keeps a second node "
                 "off it (lock, holding the pid), the DID it belongs to (did) and, by default, the control "
                 "socket (control.sock)."),
            ".TP", "\\fI[node] inbox\\fR, \\fIaudit_log\\fR, \\fIdelivery_log\\fR",
            roff("Delivered messages, and the audit and delivery logs (JSON lines), when set; they rotate by size."),
            ".SH SIGNALS", roff("To run:"), ".TP", "\\fBSIGTERM\\fR, \\fBSIGINT\\fR",
            roff("Stop: connections are closed cleanly, every live session is saved, and the next start "
                 "resumes them."),
            ".TP", "\\fBSIGHUP\\fR",
            roff("Reopen the audit and delivery logs (after logrotate) and reload [[peers]] from node.toml; "
                 "other keys take effect at the next start. A node.toml that does not load is refused and "
                 "the running peers stay."),
            ".SH EXAMPLES", ".nf", ".RS 4",
            roff(f"{cli.PROG} keygen --identity /etc/l2sess/identity.key"),
            roff(f"{cli.PROG} run --config node.toml"),
            roff(f"{cli.PROG} status --json | jq .peers"),
            roff(f'{cli.PROG} send did:key:z6Mk... "hello"'),
            roff(f"{cli.PROG} recv --follow"),
            ".RE", ".fi",
            ".SH SEE ALSO", "\\fBnode.toml\\fR(5), \\fBl2sessd\\fR(8), \\fBl2sessctl\\fR(1)",
            ".PP", roff("docs/NODE.md and docs/OPERATIONS.md in the source tree.")]
    return "\n".join(out) + "\n"


COMMAND_NOTES = {
    "send": "The message is one of TEXT, --hex HEX and --file FILE. The peer must be one of the node's [[peers]].",
    "recv": "Reads [node] inbox (its rotated files first) and prints one line per message: DID, seq, and the "
            "text, or hex: and the bytes when they are not printable UTF-8. With --follow it waits for more "
            "until interrupted.",
    "status": "Times are RFC 3339, UTC. Warnings (the prekey bundle near its end, a file the disk refuses) "
              "are WARNING lines, and the warnings array in JSON.",
}


# ---- node.toml.5 ------------------------------------------------------------------------

def node_toml_5() -> str:
    out = th("NODE.TOML", 5, "l2sess manual")
    out += [".SH NAME", "node.toml \\- the configuration of an l2sess node",
            ".SH SYNOPSIS", roff(cli.DEFAULT_CONFIG),
            ".SH DESCRIPTION",
            roff("A TOML file with the tables [node], [session] and [loop], and one [[peers]] table per peer. "
                 "It is read by l2sess(1) and by l2sessd(8), which accept and refuse the same files. Every "
                 "table and key is optional; a key left out has its default."),
            ".PP",
            roff("Types are strict: a boolean is true or false (the string \"false\" is refused), an integer "
                 "is a TOML integer, a number an integer or a float. Relative paths are taken from the "
                 "directory of node.toml. An address is host:port with a numeric host: an IPv4 address, or an "
                 "IPv6 address in brackets ([::1]:4433)."),
            ".PP",
            roff("A mistake stops every command that reads the file before it acts: one line that names the "
                 "file and the key, and exit status 2. Nothing wrong is replaced by a default.")]
    for table, schema in schemas().items():
        out += [".SH " + roff(heading(table)), roff(TABLE_INTRO[table])]
        for name, key in schema.items():
            default = "not set" if key.default is None else toml_value(key.default)
            rng = key_range(table, name, key)
            out += [".TP", f"\\fB{roff(name)}\\fR = \\fI{roff(KIND_TYPE[key.kind])}\\fR",
                    roff(sentence(key.doc)) + ".",
                    ".br", roff(f"Default: {default}" + (f"; {rng}" if rng else "") + ".")]
    out += [".SH RULES BETWEEN KEYS"]
    for r in rules_text():
        out += [".IP \\(bu 2", roff(r)]
    out += [".SH EXAMPLE", ".nf", ".RS 4"]
    out += [roff(line) for line in EXAMPLE.strip("\n").split("\n")]
    out += [".RE", ".fi",
            ".SH SEE ALSO", "\\fBl2sess\\fR(1), \\fBl2sessd\\fR(8)",
            ".PP", roff("docs/NODE.md and docs/OPERATIONS.md in the source tree.")]
    return "\n".join(out) + "\n"


EXAMPLE = """
[node]
listen = "0.0.0.0:4433"
identity = "identity.key"
state_dir = "state"
inbox = "inbox.log"
audit_log = "audit.jsonl"

[session]
heartbeat_interval = 30

[[peers]]
did = "did:key:z6Mk..."
address = "192.0.2.7:4433"
"""


# ---- bash completion ----------------------------------------------------------------------

def bash_words(words: list[str]) -> str:
    return " ".join(words)


def completion() -> str:
    ap = cli.build_parser()
    commands, _ = subparsers(ap)
    top_opts = [o for a in visible(ap) if not isinstance(a, argparse._SubParsersAction) for o in a.option_strings]
    top_opts.append("--help")
    cases_opts, cases_values, cases_pos = [], [], []
    takes_value: set[str] = {"-c", "--config"}
    for name, p in commands.items():
        opts = [o for a in visible(p) for o in a.option_strings] + ["--help"]
        cases_opts.append(f"        {name}) opts='{bash_words(opts)}' ;;")
        for a in p._actions:
            if a.option_strings and a.nargs != 0:
                takes_value.update(a.option_strings)
        pos = [str(a.metavar or a.dest) for a in p._actions if not a.option_strings]
        cases_pos.append(f"        {name}) positionals='{bash_words(pos)}' ;;")
    values: dict[str, str] = {}
    for p in [ap, *commands.values()]:
        for a in p._actions:
            for o in a.option_strings:
                if a.choices:
                    values[o] = "choices:" + " ".join(str(c) for c in a.choices)
                elif a.metavar == "FILE":
                    values[o] = "file"
                elif a.metavar == "DID":
                    values[o] = "did"
    for o, what in sorted(values.items()):
        if what.startswith("choices:"):
            cases_values.append(f"        {o}) COMPREPLY=($(compgen -W '{what[8:]}' -- \"$cur\")); return ;;")
        elif what == "file":
            cases_values.append(f"        {o}) _l2sess_files; return ;;")
        else:
            cases_values.append(f"        {o}) _l2sess_dids \"$config\"; return ;;")
    return COMPLETION.format(
        version=__version__, prog=cli.PROG, default_config=cli.DEFAULT_CONFIG,
        commands=bash_words(list(commands)), top_opts=bash_words(top_opts),
        takes_value="|".join(sorted(takes_value)), cases_opts="\n".join(cases_opts),
        cases_values="\n".join(cases_values), cases_pos="\n".join(cases_pos))


COMPLETION = r"""# bash completion for {prog} {version}
# Generated by scripts/gen_docs.py (make man) from l2sess/node/cli.py; do not edit by hand.
# Install: copy to /usr/share/bash-completion/completions/{prog}
# (or ~/.local/share/bash-completion/completions/{prog}), or source it.

_l2sess_files() {{
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
}}

# The DIDs of the [[peers]] of node.toml $1 (its `did = "..."` lines).
_l2sess_dids() {{
    local file=$1 dids
    [[ $file == "~/"* ]] && file=$HOME/${{file#"~/"}}
    [[ -r $file ]] || return 0
    dids=$(sed -n "s/^[[:space:]]*did[[:space:]]*=[[:space:]]*[\"']\(did:key:[A-Za-z0-9]*\)[\"'].*/\1/p" "$file")
    COMPREPLY=($(compgen -W "$dids" -- "$cur"))
}}

_l2sess() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local command= config= positional=0 i word opts= positionals=
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        case $word in
            -c|--config) config=${{COMP_WORDS[i+1]}}; i=$((i + 1)) ;;
            --config=*) config=${{word#--config=}} ;;
            {takes_value}) i=$((i + 1)) ;;
            -*) ;;
            *) if [[ -z $command ]]; then command=$word; else positional=$((positional + 1)); fi ;;
        esac
    done
    config=${{config:-${{L2SESS_CONFIG:-{default_config}}}}}

    case $prev in
{cases_values}
    esac

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '{top_opts}' -- "$cur"))
        else
            COMPREPLY=($(compgen -W '{commands}' -- "$cur"))
        fi
        return
    fi
    case $command in
{cases_opts}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case $command in
{cases_pos}
    esac
    set -- $positionals
    shift $positional 2>/dev/null || set --
    if [[ ${{1:-}} == DID ]]; then _l2sess_dids "$config"; fi
    return 0
}}

complete -F _l2sess {prog}
"""


# ---- main ----------------------------------------------------------------------------------

def generate(node_md_now: str) -> dict[str, str]:
    return {"man/l2sess.1": l2sess_1(), "man/node.toml.5": node_toml_5(),
            "completion/l2sess.bash": completion(), "NODE.md": node_md(node_md_now)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", metavar="DIR", help="write under DIR instead of into the checkout")
    args = ap.parse_args(argv)
    files = generate((ROOT / "docs" / "NODE.md").read_text(encoding="utf-8"))
    for rel, text in files.items():
        dest = Path(args.out) / rel if args.out else ROOT / OUTPUTS[rel]
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = dest.read_text(encoding="utf-8") if dest.exists() else None
        if old != text:
            dest.write_text(text, encoding="utf-8")
            print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
