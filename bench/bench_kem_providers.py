"""ML-KEM-768 and X-Wing per ML-KEM provider: the own code against liboqs.

Each provider is a build of the Python extension: the usual one (the own
code, or whatever auto chose) and one built against liboqs (make
liboqs-test's, in DIR). Each is measured in a process of its own, the two
taking turns ROUNDS times so that background load hits both alike; a
figure is the lowest of its rounds' medians (bench_crypto.py's method).
Prints µs per operation, the ratio own/liboqs (above 1: liboqs is faster)
and the providers' names, which say the code path (e.g. x86-64 AVX2).

    python bench/bench_kem_providers.py LIBOQS_PYTHONPATH [--time S] [--rounds N]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(budget_s):
    """In the child: this process's l2sess, as JSON on stdout."""
    sys.path.insert(0, HERE)
    import bench_crypto
    from l2sess import crypto

    crypto.mlkem768_keygen()  # the provider is picked on first use of the core
    d, z, m = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96))
    ek, dk = crypto.mlkem768_keygen(d, z)
    ct, _ = crypto.mlkem768_encaps(ek, m)
    xpk, xsk = crypto.xwing_keygen()
    xct, _ = crypto.xwing_encaps(xpk)
    ops = [
        ("mlkem", "ML-KEM-768 keygen", lambda: crypto.mlkem768_keygen(d, z), None),
        ("mlkem", "ML-KEM-768 encaps", lambda: crypto.mlkem768_encaps(ek), None),
        ("mlkem", "ML-KEM-768 decaps", lambda: crypto.mlkem768_decaps(dk, ct), None),
        ("xwing", "X-Wing keygen", lambda: crypto.xwing_keygen(), None),
        ("xwing", "X-Wing encaps", lambda: crypto.xwing_encaps(xpk), None),
        ("xwing", "X-Wing decaps", lambda: crypto.xwing_decaps(xsk, xct), None),
    ]
    results = bench_crypto.measure_all(ops, budget_s, 1)
    json.dump({"provider": crypto.MLKEM_PROVIDER, "us": {r["name"]: r["us"] for r in results}}, sys.stdout)


def run(pythonpath, budget_s):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, __file__, "--child", "--time", str(budget_s)], env=env,
                         cwd="/", check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("liboqs_pythonpath", nargs="?")
    ap.add_argument("--time", type=float, default=0.5, help="seconds per operation per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return measure(args.time)
    own, oqs = {}, {}
    for _ in range(args.rounds):
        for dest, path in ((own, None), (oqs, args.liboqs_pythonpath)):
            r = run(path, args.time)
            dest["provider"] = r["provider"]
            for name, us in r["us"].items():
                dest[name] = min(us, dest.get(name, us))
    print(f"ML-KEM-768 and X-Wing by provider: µs/op, lowest of {args.rounds} medians")
    print(f"{'operation':<20}  {'own':>9}  {'liboqs':>9}  {'own/liboqs':>10}")
    for name in [k for k in own if k != "provider"]:
        print(f"{name:<20}  {own[name]:>9.2f}  {oqs[name]:>9.2f}  {own[name] / oqs[name]:>9.2f}x")
    print(f"own: {own['provider']}\nliboqs: {oqs['provider']}")


if __name__ == "__main__":
    main()
