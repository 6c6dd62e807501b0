"""Benchmark of l2sess.crypto, with pyca/cryptography's ML-KEM-768 as the yardstick.

Every operation is measured the same way: a warm-up, then many batches of N
calls timed with time.perf_counter_ns (N chosen so that a batch takes about
2 ms); the figure is the median over the batches of (batch time / N). Prints
a table of µs per operation (and throughput for the bulk primitives), the
ML-KEM-768 ratios ours/pyca against the goal of <= 1.5x, BLAKE3's 64 KiB
throughput against the goal of >= 2 GB/s, the providers, CPU and versions.
The goals are reported, never enforced: the exit status is 0 either way.

    python bench/bench_crypto.py [--time SECONDS_PER_OP] [--json PATH]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata

from cryptography.hazmat.primitives.asymmetric import mlkem as pymlkem

from l2sess import crypto

MLKEM_RATIO_GOAL = 1.5  # ours / pyca, at most
BLAKE3_GOAL_GBPS = 2.0  # at 64 KiB, at least
BATCH_NS = 2_000_000  # target duration of one timed batch
MIN_BATCHES = 7


def measure(fn, budget_s):
    """Median µs per call of fn() over batches of N calls, after a warm-up."""
    # warm-up, also a first estimate of the cost of one call
    t0 = time.perf_counter_ns()
    calls = 0
    while calls < 3 or time.perf_counter_ns() - t0 < 50_000_000:
        fn()
        calls += 1
        if calls >= 10_000:
            break
    per_call = max(1, (time.perf_counter_ns() - t0) // calls)
    n = max(1, BATCH_NS // per_call)
    samples = []
    deadline = time.perf_counter_ns() + int(budget_s * 1e9)
    loop = range(n)
    while len(samples) < MIN_BATCHES or time.perf_counter_ns() < deadline:
        start = time.perf_counter_ns()
        for _ in loop:
            fn()
        samples.append((time.perf_counter_ns() - start) / n)
    return {"us": statistics.median(samples) / 1000.0, "batch_calls": n, "batches": len(samples),
            "spread_us": [min(samples) / 1000.0, max(samples) / 1000.0]}


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        for line in info.splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def openssl_version():
    try:
        from cryptography.hazmat.backends.openssl import backend

        return backend.openssl_version_text()
    except Exception:  # informational only
        return "unknown"


def operations():
    """[(section, name, fn, payload bytes or None)], in table order."""
    ops = []
    x_sk, x_peer = os.urandom(32), crypto.x25519_keypair()[0]
    ed_pk, ed_sk = crypto.ed25519_keypair()
    msg = os.urandom(64)
    sig = crypto.ed25519_sign(ed_sk, msg)
    ops += [
        ("classic", "X25519 shared secret", lambda: crypto.x25519(x_sk, x_peer), None),
        ("classic", "Ed25519 sign (64 B msg)", lambda: crypto.ed25519_sign(ed_sk, msg), None),
        ("classic", "Ed25519 verify (64 B msg)", lambda: crypto.ed25519_verify(ed_pk, msg, sig), None),
    ]

    d, z, m = os.urandom(32), os.urandom(32), os.urandom(32)
    ek, dk = crypto.mlkem768_keygen(d, z)
    ct, _ = crypto.mlkem768_encaps(ek, m)
    their_sk = pymlkem.MLKEM768PrivateKey.from_seed_bytes(d + z)
    their_pk = their_sk.public_key()
    ops += [
        ("mlkem", "ML-KEM-768 keygen (random)", lambda: crypto.mlkem768_keygen(), None),
        ("mlkem", "ML-KEM-768 keygen (d, z)", lambda: crypto.mlkem768_keygen(d, z), None),
        ("mlkem", "ML-KEM-768 encaps", lambda: crypto.mlkem768_encaps(ek), None),
        ("mlkem", "ML-KEM-768 decaps", lambda: crypto.mlkem768_decaps(dk, ct), None),
        ("pyca", "pyca ML-KEM-768 generate()", pymlkem.MLKEM768PrivateKey.generate, None),
        ("pyca", "pyca ML-KEM-768 from_seed_bytes()",
         lambda: pymlkem.MLKEM768PrivateKey.from_seed_bytes(d + z), None),
        ("pyca", "pyca ML-KEM-768 encapsulate()", their_pk.encapsulate, None),
        ("pyca", "pyca ML-KEM-768 decapsulate()", lambda: their_sk.decapsulate(ct), None),
    ]

    xpk, xsk = crypto.xwing_keygen()
    xct, _ = crypto.xwing_encaps(xpk)
    ops += [
        ("xwing", "X-Wing keygen", lambda: crypto.xwing_keygen(), None),
        ("xwing", "X-Wing encaps", lambda: crypto.xwing_encaps(xpk), None),
        ("xwing", "X-Wing decaps", lambda: crypto.xwing_decaps(xsk, xct), None),
    ]

    key, nonce = os.urandom(32), os.urandom(12)
    for size, label in ((64, "64 B"), (1024, "1 KiB"), (65536, "64 KiB")):
        pt = os.urandom(size)
        ops.append(("bulk", f"ChaCha20-Poly1305 encrypt {label}",
                    lambda pt=pt: crypto.aead_encrypt(key, nonce, pt), size))
    for size, label in ((64, "64 B"), (1024, "1 KiB"), (65536, "64 KiB"), (1 << 20, "1 MiB")):
        data = os.urandom(size)
        ops.append(("bulk", f"BLAKE3 {label}", lambda data=data: crypto.blake3(data), size))
    return ops


def fmt_throughput(size, us):
    if size is None:
        return "", ""
    mbps = size / us  # bytes per µs = MB/s (decimal)
    return f"{mbps:,.0f} MB/s", f"{mbps / 1000:.2f} GB/s"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time", type=float, default=1.5, help="measuring time per operation, seconds")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    results = []
    for section, name, fn, size in operations():
        r = measure(fn, args.time)
        r.update(section=section, name=name, bytes=size)
        if size is not None:
            r["mb_per_s"] = size / r["us"]
        results.append(r)
    by_name = {r["name"]: r for r in results}

    machine = {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "l2sess": version("l2sess"),
        "cryptography": version("cryptography"),
        "openssl": openssl_version(),
        "blake3 (PyPI)": version("blake3"),
        "MLKEM_PROVIDER": crypto.MLKEM_PROVIDER,
        "BLAKE3_BACKEND": crypto.BLAKE3_BACKEND,
    }

    lines = [f"l2sess crypto benchmark: median of batch times per operation (~{args.time:g} s each)", ""]
    width = max(len(r["name"]) for r in results)
    header = f"{'operation':<{width}}  {'µs/op':>10}  {'throughput':>13}  {'':>10}  {'batches x N':>12}"
    lines += [header, "-" * len(header)]
    last = None
    for r in results:
        if last is not None and r["section"] != last:
            lines.append("")
        last = r["section"]
        mb, gb = fmt_throughput(r["bytes"], r["us"])
        lines.append(f"{r['name']:<{width}}  {r['us']:>10.2f}  {mb:>13}  {gb:>10}  "
                     f"{r['batches']:>5} x {r['batch_calls']:<6}")

    goals = []
    pairs = [
        ("keygen (random)", "ML-KEM-768 keygen (random)", "pyca ML-KEM-768 generate()"),
        ("keygen (from seed)", "ML-KEM-768 keygen (d, z)", "pyca ML-KEM-768 from_seed_bytes()"),
        ("encaps", "ML-KEM-768 encaps", "pyca ML-KEM-768 encapsulate()"),
        ("decaps", "ML-KEM-768 decaps", "pyca ML-KEM-768 decapsulate()"),
    ]
    lines += ["", f"ML-KEM-768 ours / pyca (goal <= {MLKEM_RATIO_GOAL}x)",
              f"{'operation':<20}  {'ours µs':>9}  {'pyca µs':>9}  {'ratio':>7}  goal"]
    for op, ours, theirs in pairs:
        ratio = by_name[ours]["us"] / by_name[theirs]["us"]
        met = ratio <= MLKEM_RATIO_GOAL
        goals.append({"goal": f"ML-KEM-768 {op} ours/pyca <= {MLKEM_RATIO_GOAL}", "value": ratio, "met": met})
        lines.append(f"{op:<20}  {by_name[ours]['us']:>9.2f}  {by_name[theirs]['us']:>9.2f}  "
                     f"{ratio:>6.2f}x  {'met' if met else 'NOT met'}")
    lines.append("(pyca encaps/decaps run on already-loaded key objects; ours take the key bytes "
                 "and check them on every call)")

    gbps = by_name["BLAKE3 64 KiB"]["mb_per_s"] / 1000
    met = gbps >= BLAKE3_GOAL_GBPS
    goals.append({"goal": f"BLAKE3 64 KiB >= {BLAKE3_GOAL_GBPS} GB/s", "value": gbps, "met": met})
    lines += ["", f"BLAKE3 64 KiB: {gbps:.2f} GB/s (goal >= {BLAKE3_GOAL_GBPS} GB/s): "
              f"{'met' if met else 'NOT met'}", ""]
    lines += [f"{k}: {v}" for k, v in machine.items()]
    lines.append(f"total run time: {time.perf_counter() - started:.1f} s")
    print("\n".join(lines))

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"method": "median of per-batch (perf_counter_ns / N) after warm-up",
                       "unit": "microseconds per operation; MB = 1e6 bytes",
                       "machine": machine, "results": results, "goals": goals}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
