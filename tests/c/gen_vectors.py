#!/usr/bin/env python3
"""Flatten the JSON test vectors in tests/vectors/ into `.kv` files for the C tests.

A `.kv` file is a list of records separated by blank lines; each line is
`name = hex`. C has no JSON parser here, and this keeps the C reader tiny
(tests/c/testutil.h). Usage: gen_vectors.py VECTOR_DIR OUT_DIR
"""
import json
import os
import sys


def write(path, records):
    with open(path, "w") as f:
        for rec in records:
            for key, value in rec.items():
                f.write(f"{key} = {value.lower()}\n")
            f.write("\n")


def hexstr(text):
    return text.encode().hex()


def mlkem_keygen(vdir):
    doc = json.load(open(os.path.join(vdir, "mlkem768_acvp_keygen.json")))
    for group in doc["testGroups"]:
        for t in group["tests"]:
            yield {"d": t["d"], "z": t["z"], "ek": t["ek"], "dk": t["dk"]}


def mlkem_encaps(vdir):
    doc = json.load(open(os.path.join(vdir, "mlkem768_acvp_encapdecap.json")))
    for group in doc["testGroups"]:
        if group["function"] == "encapsulation":
            for t in group["tests"]:
                yield {"ek": t["ek"], "dk": t["dk"], "m": t["m"], "c": t["c"], "k": t["k"]}


def mlkem_decaps(vdir):
    doc = json.load(open(os.path.join(vdir, "mlkem768_acvp_encapdecap.json")))
    for group in doc["testGroups"]:
        if group["function"] == "decapsulation":
            for t in group["tests"]:
                modified = "01" if t["reason"] != "no modification" else "00"
                yield {"dk": group["dk"], "c": t["c"], "k": t["k"], "modified": modified}


def xwing(vdir):
    for name in ("xwing_vectors.json", "mlkem768_x25519_concrete_hybrid_kems_vectors.json"):
        for t in json.load(open(os.path.join(vdir, "xwing", name))):
            yield {k: t[k] for k in ("seed", "sk", "pk", "eseed", "ct", "ss")}


def blake3(vdir):
    doc = json.load(open(os.path.join(vdir, "blake3_test_vectors.json")))
    for case in doc["cases"]:
        yield {
            "input_len": f"{case['input_len']:016x}",
            "key": hexstr(doc["key"]),
            "context": hexstr(doc["context_string"]),
            "hash": case["hash"],
            "keyed_hash": case["keyed_hash"],
            "derive_key": case["derive_key"],
        }


def rfc(vdir, section):
    doc = json.load(open(os.path.join(vdir, "rfc_vectors.json")))
    for t in doc[section]:
        rec = {}
        for key, value in t.items():
            if key in ("id", "source", "comment") or value == "valid":
                continue
            rec[key] = f"{value:016x}" if isinstance(value, int) else value
        yield rec


def main():
    vdir, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    files = {
        "mlkem_keygen.kv": mlkem_keygen(vdir),
        "mlkem_encaps.kv": mlkem_encaps(vdir),
        "mlkem_decaps.kv": mlkem_decaps(vdir),
        "xwing.kv": xwing(vdir),
        "blake3.kv": blake3(vdir),
        "aead.kv": rfc(vdir, "chacha20_poly1305"),
        "x25519.kv": rfc(vdir, "x25519"),
        "x25519_iterated.kv": rfc(vdir, "x25519_iterated"),
        "x25519_dh.kv": rfc(vdir, "x25519_dh"),
        "ed25519.kv": rfc(vdir, "ed25519"),
    }
    for name, records in files.items():
        write(os.path.join(out, name), list(records))


if __name__ == "__main__":
    main()
