"""Benchmark of l2sess.crypto, with pyca/cryptography's ML-KEM-768 as the yardstick.

Every operation is measured the same way: a warm-up, then many batches of N
calls timed with time.perf_counter_ns (N chosen so that a batch takes about
2 ms); the figure is the median over the batches of (batch time / N). The
batches are taken in several rounds over all operations, interleaved, so that
background load affects ours and pyca's figures alike. Prints
a table of µs per operation (and throughput for the bulk primitives), the
ML-KEM-768 ratios ours/pyca against the goal of <= 1.5x, BLAKE3's 64 KiB
throughput against the goal of >= 2 GB/s, the providers, CPU and versions.
The goals are reported, never enforced: the exit status is 0 either way.

    python bench/bench_crypto.py [--time SECONDS_PER_OP] [--rounds N] [--json PATH]
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


def calibrate(fn):
    """Warm fn up, and return N so that a batch of N calls takes about BATCH_NS."""
    t0 = time.perf_counter_ns()
    calls = 0
    while calls < 3 or (time.perf_counter_ns() - t0 < 50_000_000 and calls < 10_000):
        fn()
        calls += 1
    per_call = max(1, (time.perf_counter_ns() - t0) // calls)
    return max(1, BATCH_NS // per_call)


def sample(fn, n, budget_s, min_batches):
    """Per-call ns of successive batches of n calls, for about budget_s seconds."""
    for _ in range(min(n, 100)):  # re-warm caches after the other operations ran
        fn()
    samples = []
    loop = range(n)
    deadline = time.perf_counter_ns() + int(budget_s * 1e9)
    while len(samples) < min_batches or time.perf_counter_ns() < deadline:
        start = time.perf_counter_ns()
        for _ in loop:
            fn()
        samples.append((time.perf_counter_ns() - start) / n)
    return samples


def measure_all(ops, budget_s, rounds):
    """Median µs per call of each operation, measured in interleaved rounds.

    Every operation gets budget_s in total, split over `rounds` passes over
    the whole list, so a change in background load hits all of them alike.
    """
    sizes = [calibrate(fn) for _, _, fn, _ in ops]
    samples = [[] for _ in ops]
    for _ in range(rounds):
        for i, (_, _, fn, _) in enumerate(ops):
            samples[i] += sample(fn, sizes[i], budget_s / rounds, max(1, MIN_BATCHES // rounds))
    results = []
    for (section, name, _, size), n, s in zip(ops, sizes, samples):
        r = {"section": section, "name": name, "bytes": size, "us": statistics.median(s) / 1000.0,
             "batch_calls": n, "batches": len(s), "spread_us": [min(s) / 1000.0, max(s) / 1000.0]}
        if size is not None:
            r["mb_per_s"] = size / r["us"]
        results.append(r)
    return results


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
        ("pyca", "pyca ML-KEM-768 load ek + encapsulate()",
         lambda: pymlkem.MLKEM768PublicKey.from_public_bytes(ek).encapsulate(), None),
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
    ap.add_argument("--rounds", type=int, default=5, help="interleaved passes over all operations")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    results = measure_all(operations(), args.time, args.rounds)
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
        "load average (1/5/15 min) at end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }

    lines = [f"l2sess crypto benchmark: median of batch times per operation "
             f"(~{args.time:g} s each, in {args.rounds} interleaved rounds)", ""]
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
              f"{'operation':<27}  {'ours µs':>9}  {'pyca µs':>9}  {'ratio':>7}  goal"]
    for op, ours, theirs in pairs:
        ratio = by_name[ours]["us"] / by_name[theirs]["us"]
        met = ratio <= MLKEM_RATIO_GOAL
        goals.append({"goal": f"ML-KEM-768 {op} ours/pyca <= {MLKEM_RATIO_GOAL}", "ours_us": by_name[ours]["us"],
                      "pyca_us": by_name[theirs]["us"], "ratio": ratio, "met": met})
        lines.append(f"{op:<27}  {by_name[ours]['us']:>9.2f}  {by_name[theirs]['us']:>9.2f}  "
                     f"{ratio:>6.2f}x  {'met' if met else 'NOT met'}")
    lines.append("pyca's encaps/decaps above use key objects loaded once (OpenSSL keeps the expanded")
    lines.append("matrix A in them); ours take the key bytes and check and expand them on every call.")
    ours, theirs = "ML-KEM-768 encaps", "pyca ML-KEM-768 load ek + encapsulate()"
    ratio = by_name[ours]["us"] / by_name[theirs]["us"]
    info = [{"comparison": "ML-KEM-768 encaps, both from ek bytes, ours/pyca", "ratio": ratio}]
    lines.append(f"{'encaps, both from ek bytes':<27}  {by_name[ours]['us']:>9.2f}  {by_name[theirs]['us']:>9.2f}  "
                 f"{ratio:>6.2f}x  (information only)")
    lines.append("(no such row for decaps: pyca's raw private-key loader takes only the 64-byte seed,")
    lines.append(" so loading its key includes key generation.)")

    gbps = by_name["BLAKE3 64 KiB"]["mb_per_s"] / 1000
    met = gbps >= BLAKE3_GOAL_GBPS
    goals.append({"goal": f"BLAKE3 64 KiB >= {BLAKE3_GOAL_GBPS} GB/s", "gb_per_s": gbps, "met": met})
    lines += ["", f"BLAKE3 64 KiB: {gbps:.2f} GB/s (goal >= {BLAKE3_GOAL_GBPS} GB/s): "
              f"{'met' if met else 'NOT met'}", ""]
    lines += [f"{k}: {v}" for k, v in machine.items()]
    lines.append(f"total run time: {time.perf_counter() - started:.1f} s")
    print("\n".join(lines))

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"method": "median of per-batch (perf_counter_ns / N) after warm-up, "
                                 f"{args.rounds} interleaved rounds of {args.time / args.rounds:g} s per op",
                       "unit": "microseconds per operation; MB = 1e6 bytes",
                       "machine": machine, "results": results, "goals": goals,
                       "comparisons": info}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
