"""Official test vectors, run through l2sess.crypto.

ML-KEM-768: every NIST ACVP keyGen, encapsulation and decapsulation case
(including the implicit-rejection ones). X-Wing: every vector of the draft and
of the concrete-hybrid-KEMs draft, plus a check that the draft's inputs really
come from SHAKE128(""). BLAKE3: the official vectors in all three modes at the
full extended length and at shorter prefixes. RFC 8439 AEAD, RFC 7748 X25519
(including the iterated test) and RFC 8032 Ed25519.
"""
import os
import hashlib
import time

import pytest

from l2sess import crypto


def h(value):
    return bytes.fromhex(value)

# ---- ML-KEM-768 (NIST ACVP) ---------------------------------------------------


def test_acvp_keygen(acvp_keygen_case):
    c = acvp_keygen_case
    ek, dk = crypto.mlkem768_keygen(h(c["d"]), h(c["z"]))
    assert ek.hex() == c["ek"].lower()
    assert dk.hex() == c["dk"].lower()


def test_acvp_encaps(acvp_encaps_case):
    c = acvp_encaps_case
    ct, k = crypto.mlkem768_encaps(h(c["ek"]), h(c["m"]))
    assert ct.hex() == c["c"].lower()
    assert k.hex() == c["k"].lower()
    assert crypto.mlkem768_decaps(h(c["dk"]), ct) == k


def test_acvp_decaps(acvp_decaps_case):
    c = acvp_decaps_case
    dk, ct = h(c["dk"]), h(c["c"])
    k = crypto.mlkem768_decaps(dk, ct)
    assert k.hex() == c["k"].lower()
    # a modified ciphertext gives the implicit-rejection key J(z || c), z = the last 32 bytes of dk
    rejected = hashlib.shake_256(dk[-32:] + ct).digest(32)
    assert (k == rejected) == (c["reason"] == "modify ciphertext")


# How many cases each vector set has (tests/vectors/README.md). Asserted
# exactly: over an emptied file a parametrized test is only skipped ("got
# empty parameter set"), over a truncated one it passes on fewer cases.
VECTOR_COUNTS = {
    "acvp_keygen_case": 25,
    "acvp_encaps_case": 25,
    "acvp_decaps_case": 10,
    "xwing_case": 3 + 10,  # the X-Wing draft, concrete-hybrid-kems
    "blake3_case": 35 * 3,  # 35 inputs, each in three modes
    "aead_case": 2,
    "x25519_case": 2,
    "x25519_iter_case": 3,
    "x25519_dh_case": 1,
    "ed25519_case": 5,
}


def test_every_vector_set_is_complete(vector_cases, vector_set_names):
    """The parametrized tests in this file really see every case of the files."""
    assert set(vector_set_names) == set(VECTOR_COUNTS)  # a new set needs its count here
    assert {name: len(vector_cases(name)) for name in VECTOR_COUNTS} == VECTOR_COUNTS
    decaps = vector_cases("acvp_decaps_case")
    assert sum(c["reason"] == "modify ciphertext" for _, c in decaps) == 5  # implicit rejection
    assert [c["iterations"] for _, c in vector_cases("x25519_iter_case")] == [1, 1000, 1000000]


# ---- X-Wing ------------------------------------------------------------------


def test_xwing_vector(xwing_case):
    v = xwing_case
    pk, sk = crypto.xwing_keygen(h(v["seed"]))
    assert sk == h(v["seed"]) == h(v["sk"])
    assert pk.hex() == v["pk"]
    ct, ss = crypto.xwing_encaps(pk, h(v["eseed"]))
    assert ct.hex() == v["ct"]
    assert ss.hex() == v["ss"]
    assert crypto.xwing_decaps(h(v["sk"]), h(v["ct"])).hex() == v["ss"]


def test_xwing_draft_inputs_come_from_shake128_of_empty_string(load_vectors):
    """The draft's vectors read seed (32) then eseed (64) from one SHAKE128("") stream."""
    vectors = load_vectors("xwing/xwing_vectors.json")
    assert len(vectors) == 3
    stream = hashlib.shake_128(b"").digest(96 * len(vectors))
    for i, v in enumerate(vectors):
        assert h(v["seed"]) == stream[96 * i: 96 * i + 32], f"seed of vector {i}"
        assert h(v["eseed"]) == stream[96 * i + 32: 96 * i + 96], f"eseed of vector {i}"


def test_hybrid_kems_inputs_are_the_documented_constants(load_vectors):
    vectors = load_vectors("xwing/mlkem768_x25519_concrete_hybrid_kems_vectors.json")
    assert len(vectors) == 10
    for i, v in enumerate(vectors):
        assert h(v["seed"]) == bytes([i]) * 32
        assert h(v["eseed"]) == bytes([0x64 + i]) * 64


# ---- BLAKE3 ------------------------------------------------------------------


def blake3_input(n):
    """The official vectors' input: the bytes 0, 1, ..., 250 repeated, n bytes."""
    return bytes(i % 251 for i in range(n))


def blake3_run(case, length=None):
    data = blake3_input(case["input_len"])
    kw = {} if length is None else {"length": length}
    if case["mode"] == "hash":
        return crypto.blake3(data, **kw)
    if case["mode"] == "keyed_hash":
        return crypto.blake3(data, key=case["key"].encode(), **kw)
    return crypto.blake3_derive_key(case["context"], data, **kw)


def test_blake3_vector(blake3_case):
    expected = h(blake3_case["out"])
    assert len(expected) == 131
    assert blake3_run(blake3_case, 131) == expected
    assert blake3_run(blake3_case) == expected[:32]  # the default length
    for n in (0, 1, 16, 31, 32, 33, 63, 64, 65, 100, 130):
        assert blake3_run(blake3_case, n) == expected[:n], f"prefix of {n} bytes"


# ---- ChaCha20-Poly1305 (RFC 8439) --------------------------------------------


def test_rfc8439_aead(aead_case):
    v = aead_case
    key, nonce, aad = h(v["key"]), h(v["nonce"]), h(v["aad"])
    sealed = h(v["ciphertext"]) + h(v["tag"])
    assert crypto.aead_encrypt(key, nonce, h(v["plaintext"]), aad) == sealed
    assert crypto.aead_decrypt(key, nonce, sealed, aad) == h(v["plaintext"])


# ---- X25519 (RFC 7748) -------------------------------------------------------


def test_rfc7748_x25519(x25519_case):
    v = x25519_case
    assert crypto.x25519(h(v["scalar"]), h(v["u"])).hex() == v["output"]


def x25519_iterate(k, n):
    u = k
    for _ in range(n):
        k, u = crypto.x25519(k, u), k
    return k


# The 1,000,000-iteration case runs by default only if this machine would
# finish it within this many seconds (projected from a timed warm-up).
SLOW_BUDGET_S = 20.0


def test_rfc7748_x25519_iterated(x25519_iter_case, runslow):
    v = x25519_iter_case
    n = v["iterations"]
    if n >= 100_000 and not runslow:
        sample = 2000
        t0 = time.perf_counter()
        x25519_iterate(h(v["initial_k"]), sample)
        projected = (time.perf_counter() - t0) * n / sample
        if projected > SLOW_BUDGET_S:
            pytest.skip(f"{n} iterations projected at {projected:.0f} s > {SLOW_BUDGET_S:.0f} s "
                        "budget (run with --runslow or L2S_RUNSLOW=1)")
    assert v["initial_k"] == v["initial_u"]
    assert x25519_iterate(h(v["initial_k"]), n).hex() == v["result"]


def test_rfc7748_dh(x25519_dh_case):
    v = x25519_dh_case
    a_sk, b_sk = h(v["alice_private"]), h(v["bob_private"])
    assert crypto.x25519_public_key(a_sk).hex() == v["alice_public"]
    assert crypto.x25519_public_key(b_sk).hex() == v["bob_public"]
    assert crypto.x25519(a_sk, h(v["bob_public"])).hex() == v["shared_secret"]
    assert crypto.x25519(b_sk, h(v["alice_public"])).hex() == v["shared_secret"]


# ---- Ed25519 (RFC 8032) ------------------------------------------------------


def test_rfc8032_ed25519(ed25519_case):
    v = ed25519_case
    seed, msg, sig = h(v["secret_key"]), h(v["message"]), h(v["signature"])
    pk, sk = crypto.ed25519_keypair(seed)
    assert pk.hex() == v["public_key"]
    assert sk == seed + pk
    assert crypto.ed25519_sign(sk, msg) == sig
    assert crypto.ed25519_sign(seed, msg) == sig
    assert crypto.ed25519_verify(h(v["public_key"]), msg, sig) is None
    bad = bytearray(sig)
    bad[0] ^= 1
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.ed25519_verify(pk, msg, bytes(bad))


def test_mlkem_provider_is_the_expected_one():
    """make liboqs-test sets L2S_EXPECT_MLKEM_PROVIDER: the start of the name
    of the provider these vectors must have run on."""
    want = os.environ.get("L2S_EXPECT_MLKEM_PROVIDER")
    if not want:
        pytest.skip("L2S_EXPECT_MLKEM_PROVIDER not set")
    assert crypto.MLKEM_PROVIDER.startswith(want), crypto.MLKEM_PROVIDER
