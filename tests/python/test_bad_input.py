"""Malformed input to l2sess.crypto never crashes and raises the documented error.

Wrong types give TypeError; wrong lengths give ValueError naming the argument;
invalid keys give InvalidKey (ML-KEM coefficients >= q, a dk whose H(ek) does
not match, small-order X25519 points); forged or altered AEAD messages and
Ed25519 signatures give AuthenticationFailed. Random byte strings of every
length 0..3000 fed to the decoding functions give a result of the right size
or a ValueError/TypeError, nothing else.
"""
import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2sess import crypto

Q = 3329
EK, DK, CT = crypto.MLKEM768_EK_BYTES, crypto.MLKEM768_DK_BYTES, crypto.MLKEM768_CT_BYTES
XPK, XCT = crypto.XWING_PK_BYTES, crypto.XWING_CT_BYTES


def det(n, label):
    """n deterministic pseudorandom bytes."""
    return hashlib.shake_256(label.encode()).digest(n)


# Valid material, made once.
MLKEM_EK, MLKEM_DK = crypto.mlkem768_keygen(det(32, "d"), det(32, "z"))
MLKEM_CT, MLKEM_SS = crypto.mlkem768_encaps(MLKEM_EK, det(32, "m"))
XWING_PK, XWING_SK = crypto.xwing_keygen(det(32, "xwing"))
XWING_CT, XWING_SS = crypto.xwing_encaps(XWING_PK, det(64, "eseed"))
ED_PK, ED_SK = crypto.ed25519_keypair(det(32, "ed"))
ED_MSG = b"a message to sign"
ED_SIG = crypto.ed25519_sign(ED_SK, ED_MSG)
AEAD_KEY, AEAD_NONCE, AEAD_AD = det(32, "key"), det(12, "nonce"), b"header"
AEAD_PT = b"attack at dawn" * 5
AEAD_CT = crypto.aead_encrypt(AEAD_KEY, AEAD_NONCE, AEAD_PT, AEAD_AD)
X_SK = det(32, "x25519")
X_PK = crypto.x25519_public_key(det(32, "x25519 peer"))

# function name -> list of (argument name, valid value, required length or
# None for any length, whether None is an accepted value). Calls are made with
# positional arguments in this order.
SPECS = {
    "mlkem768_keygen": [("d", det(32, "d"), 32, True), ("z", det(32, "z"), 32, True)],
    "mlkem768_encaps": [("ek", MLKEM_EK, EK, False), ("m", det(32, "m"), 32, True)],
    "mlkem768_decaps": [("dk", MLKEM_DK, DK, False), ("ct", MLKEM_CT, CT, False)],
    "xwing_keygen": [("seed", XWING_SK, 32, True)],
    "xwing_encaps": [("pk", XWING_PK, XPK, False), ("eseed", det(64, "eseed"), 64, True)],
    "xwing_decaps": [("sk", XWING_SK, 32, False), ("ct", XWING_CT, XCT, False)],
    "blake3": [("data", b"abc", None, False), ("key", det(32, "bk"), 32, True)],
    "blake3_derive_key": [("context", "ctx", None, False), ("material", b"abc", None, False)],
    "ed25519_keypair": [("seed", det(32, "ed"), 32, True)],
    "ed25519_sign": [("sk", ED_SK, 64, False), ("msg", ED_MSG, None, False)],
    "ed25519_verify": [("pk", ED_PK, 32, False), ("msg", ED_MSG, None, False), ("sig", ED_SIG, 64, False)],
    "aead_encrypt": [("key", AEAD_KEY, 32, False), ("nonce", AEAD_NONCE, 12, False),
                     ("plaintext", AEAD_PT, None, False), ("ad", AEAD_AD, None, False)],
    "aead_decrypt": [("key", AEAD_KEY, 32, False), ("nonce", AEAD_NONCE, 12, False),
                     ("ciphertext", AEAD_CT, None, False), ("ad", AEAD_AD, None, False)],
    "x25519_public_key": [("sk", X_SK, 32, False)],
    "x25519": [("sk", X_SK, 32, False), ("pk", X_PK, 32, False)],
}


def call(fname, **override):
    """Call crypto.<fname> with valid arguments except those in override."""
    args = [override.get(name, valid) for name, valid, _, _ in SPECS[fname]]
    return getattr(crypto, fname)(*args)


def wrong_type_cases():
    for fname, spec in SPECS.items():
        for name, valid, _, none_ok in spec:
            wrong = [("str", "x" * 32), ("int", 32), ("list", [0] * 32), ("float", 1.0)]
            if isinstance(valid, str):  # the context is a str; bytes is the wrong type
                wrong = [("bytes", b"ctx"), ("int", 32), ("list", ["c"])]
            if not none_ok:
                wrong.append(("None", None))
            for tname, value in wrong:
                yield pytest.param(fname, name, value, id=f"{fname}-{name}-{tname}")


def fixed_length_args():
    return [(fname, name, n) for fname, spec in SPECS.items() for name, _, n, _ in spec if n is not None]


def wrong_length_cases():
    for fname, name, n in fixed_length_args():
        for bad in sorted({0, n - 1, n + 1}):
            if fname == "ed25519_sign" and name == "sk" and bad in (31, 32, 33):
                continue  # a 32-byte seed is accepted there; checked separately
            yield pytest.param(fname, name, bad, id=f"{fname}-{name}-len{bad}")


def test_all_functions_are_covered():
    public = {n for n in crypto.__all__ if n[0].islower()}
    assert public - {"x25519_keypair"} == set(SPECS)


@pytest.mark.parametrize("fname", sorted(SPECS))
def test_valid_arguments_work(fname):
    """The base case of the table: valid values do not raise (so the tests below mean something)."""
    call(fname)


@pytest.mark.parametrize("fname,name,value", list(wrong_type_cases()))
def test_wrong_type_raises_type_error(fname, name, value):
    with pytest.raises(TypeError, match=rf"\b{name}\b"):
        call(fname, **{name: value})


@pytest.mark.parametrize("fname,name,length", list(wrong_length_cases()))
def test_wrong_length_raises_value_error_naming_the_argument(fname, name, length):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call(fname, **{name: bytes(length)})


@pytest.mark.parametrize("fname,name,n", fixed_length_args(), ids=lambda x: str(x))
@settings(max_examples=40, deadline=None)
@given(length=st.integers(0, 3000))
def test_random_wrong_lengths(fname, name, n, length):
    ok = {n, 32} if (fname, name) == ("ed25519_sign", "sk") else {n}
    value = det(length, f"{fname}/{name}")
    if length in ok:  # right-sized: at most a key/auth error, not a length error
        try:
            call(fname, **{name: value})
        except crypto.CryptoError as e:
            assert "bytes" not in str(e), e
        return
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call(fname, **{name: value})


@pytest.mark.parametrize("length", range(16))
def test_aead_ciphertext_shorter_than_tag(length):
    with pytest.raises(ValueError, match=r"\bciphertext\b"):
        crypto.aead_decrypt(AEAD_KEY, AEAD_NONCE, AEAD_CT[:length], AEAD_AD)


def test_buffer_types_are_accepted():
    assert crypto.mlkem768_decaps(bytearray(MLKEM_DK), memoryview(MLKEM_CT)) == MLKEM_SS
    assert crypto.aead_decrypt(memoryview(AEAD_KEY), bytearray(AEAD_NONCE), AEAD_CT, AEAD_AD) == AEAD_PT


# ---- ML-KEM key checks (FIPS 203 §7.2, §7.3) ------------------------------------


def get_coeff(ek, poly, j):
    """Coefficient j (0..255) of polynomial poly (0..2) of a ByteEncode12 packed ek."""
    b = ek[384 * poly + 3 * (j // 2): 384 * poly + 3 * (j // 2) + 3]
    return (b[0] | (b[1] & 0x0F) << 8) if j % 2 == 0 else (b[1] >> 4 | b[2] << 4)


def set_coeff(ek, poly, j, value):
    """A copy of ek with coefficient j of polynomial poly set to value (< 4096)."""
    out = bytearray(ek)
    i = 384 * poly + 3 * (j // 2)
    if j % 2 == 0:
        out[i] = value & 0xFF
        out[i + 1] = (out[i + 1] & 0xF0) | (value >> 8)
    else:
        out[i + 1] = (out[i + 1] & 0x0F) | ((value & 0x0F) << 4)
        out[i + 2] = value >> 4
    return bytes(out)


def test_coefficient_helpers():
    coeffs = [get_coeff(MLKEM_EK, p, j) for p in range(3) for j in range(256)]
    assert all(c < Q for c in coeffs)
    assert len(set(coeffs)) > 500  # a real decoding, not a constant
    for p, j in ((0, 0), (1, 127), (2, 255)):
        changed = set_coeff(MLKEM_EK, p, j, 4095)
        assert get_coeff(changed, p, j) == 4095
        assert sum(a != b for a, b in zip(changed, MLKEM_EK)) <= 2
        neighbours = [(p, k) for k in range(256) if k != j]
        assert all(get_coeff(changed, *pk) == get_coeff(MLKEM_EK, *pk) for pk in neighbours)


BAD_COEFF_CASES = [
    pytest.param(poly, j, value, id=f"poly{poly}-coeff{j}-{value}")
    for poly in range(3) for j in (0, 1, 127, 128, 255) for value in (Q, 4095)
]


@pytest.mark.parametrize("poly,j,value", BAD_COEFF_CASES)
def test_mlkem_encaps_rejects_coefficient_at_least_q(poly, j, value):
    bad = set_coeff(MLKEM_EK, poly, j, value)
    with pytest.raises(crypto.InvalidKey):
        crypto.mlkem768_encaps(bad, det(32, "m"))
    with pytest.raises(crypto.InvalidKey):
        crypto.mlkem768_encaps(bad)


@pytest.mark.parametrize("poly,j,value", BAD_COEFF_CASES)
def test_xwing_encaps_rejects_coefficient_at_least_q(poly, j, value):
    bad = set_coeff(XWING_PK[:EK], poly, j, value) + XWING_PK[EK:]
    with pytest.raises(crypto.InvalidKey):
        crypto.xwing_encaps(bad, det(64, "eseed"))
    with pytest.raises(crypto.InvalidKey):
        crypto.xwing_encaps(bad)


@pytest.mark.parametrize("poly,j", [(0, 0), (1, 128), (2, 255)])
def test_mlkem_encaps_accepts_coefficient_q_minus_1(poly, j):
    """The check is `< q`, not stricter: q - 1 is a valid coefficient."""
    ct, ss = crypto.mlkem768_encaps(set_coeff(MLKEM_EK, poly, j, Q - 1), det(32, "m"))
    assert len(ct) == CT and len(ss) == 32


def test_mlkem_encaps_rejects_all_ones_key():
    with pytest.raises(crypto.InvalidKey):
        crypto.mlkem768_encaps(b"\xff" * EK)


@pytest.mark.parametrize("pos", [2336, 2350, 2367], ids=lambda p: f"byte{p}")
def test_mlkem_decaps_rejects_altered_ek_hash(pos):
    bad = bytearray(MLKEM_DK)
    bad[pos] ^= 0x01
    with pytest.raises(crypto.InvalidKey):
        crypto.mlkem768_decaps(bytes(bad), MLKEM_CT)


@pytest.mark.parametrize("pos", [1152, 1700, 2335], ids=lambda p: f"byte{p}")
def test_mlkem_decaps_rejects_altered_ek_inside_dk(pos):
    bad = bytearray(MLKEM_DK)
    bad[pos] ^= 0x01
    with pytest.raises(crypto.InvalidKey):
        crypto.mlkem768_decaps(bytes(bad), MLKEM_CT)


def test_mlkem_keygen_needs_both_seeds():
    with pytest.raises(ValueError, match=r"\bd\b.*\bz\b"):
        crypto.mlkem768_keygen(det(32, "d"))
    with pytest.raises(ValueError, match=r"\bd\b.*\bz\b"):
        crypto.mlkem768_keygen(None, det(32, "z"))
    with pytest.raises(ValueError):
        crypto.mlkem768_keygen(z=det(32, "z"))


# ---- AEAD and signature forgeries --------------------------------------------------


def flip(data, pos, bit=0):
    out = bytearray(data)
    out[pos] ^= 1 << bit
    return bytes(out)


@pytest.mark.parametrize("pos", [-16, -8, -1], ids=lambda p: f"tag{p}")
def test_aead_tag_flip(pos):
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(AEAD_KEY, AEAD_NONCE, flip(AEAD_CT, pos), AEAD_AD)


@pytest.mark.parametrize("pos", [0, 30, len(AEAD_PT) - 1], ids=lambda p: f"ct{p}")
def test_aead_ciphertext_flip(pos):
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(AEAD_KEY, AEAD_NONCE, flip(AEAD_CT, pos, 7), AEAD_AD)


@pytest.mark.parametrize("ad", [b"", b"headeR", AEAD_AD + b"\x00", AEAD_AD[:-1]], ids=repr)
def test_aead_wrong_ad(ad):
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(AEAD_KEY, AEAD_NONCE, AEAD_CT, ad)


def test_aead_wrong_nonce_key_or_truncation():
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(AEAD_KEY, flip(AEAD_NONCE, 11), AEAD_CT, AEAD_AD)
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(flip(AEAD_KEY, 0), AEAD_NONCE, AEAD_CT, AEAD_AD)
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(AEAD_KEY, AEAD_NONCE, AEAD_CT[1:], AEAD_AD)
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.aead_decrypt(AEAD_KEY, AEAD_NONCE, AEAD_CT[-16:], AEAD_AD)


def test_errors_are_value_errors():
    for cls in (crypto.InvalidKey, crypto.AuthenticationFailed):
        assert issubclass(cls, crypto.CryptoError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("pos", [0, 31, 32, 63], ids=lambda p: f"sig{p}")
def test_ed25519_bad_signature(pos):
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.ed25519_verify(ED_PK, ED_MSG, flip(ED_SIG, pos))


def test_ed25519_wrong_message_or_key():
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.ed25519_verify(ED_PK, ED_MSG + b".", ED_SIG)
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.ed25519_verify(crypto.ed25519_keypair(det(32, "other"))[0], ED_MSG, ED_SIG)
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.ed25519_verify(ED_PK, ED_MSG, bytes(64))


def test_ed25519_rejects_non_canonical_s():
    """S + L verifies the same equation but is not canonical (RFC 8032 §5.1.7): reject."""
    L = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(ED_SIG[32:], "little")
    assert s < L
    forged = ED_SIG[:32] + (s + L).to_bytes(32, "little")
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.ed25519_verify(ED_PK, ED_MSG, forged)


# ---- X25519 small-order points ----------------------------------------------------

SMALL_ORDER = {
    "zero": "00" * 32,
    "one": "01" + "00" * 31,
    "order8-a": "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "order8-b": "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "p-1": "ec" + "ff" * 30 + "7f",
    "p": "ed" + "ff" * 30 + "7f",
    "p+1": "ee" + "ff" * 30 + "7f",
}


@pytest.mark.parametrize("name", SMALL_ORDER)
def test_x25519_small_order_public_key(name):
    with pytest.raises(crypto.InvalidKey):
        crypto.x25519(X_SK, bytes.fromhex(SMALL_ORDER[name]))


def test_xwing_decaps_small_order_ct_x_follows_the_draft():
    """X-Wing (draft -10) does not reject an all-zero X25519 result: ss_X is then zero."""
    ct_x = bytes(32)
    e = hashlib.shake_256(XWING_SK).digest(96)
    _, dk_m = crypto.mlkem768_keygen(e[:32], e[32:64])
    ss_m = crypto.mlkem768_decaps(dk_m, XWING_CT[:CT])
    expected = hashlib.sha3_256(ss_m + bytes(32) + ct_x + XWING_PK[EK:] + b"\\.//^\\").digest()
    assert crypto.xwing_decaps(XWING_SK, XWING_CT[:CT] + ct_x) == expected


# ---- BLAKE3 output length ------------------------------------------------------------


@pytest.mark.parametrize("length", [-1, -2**63, 2**30 + 1, 2**63, 2**64, 10**30])
def test_blake3_length_out_of_range(length):
    with pytest.raises(ValueError, match=r"\blength\b"):
        crypto.blake3(b"abc", length=length)
    with pytest.raises(ValueError, match=r"\blength\b"):
        crypto.blake3(b"abc", key=bytes(32), length=length)
    with pytest.raises(ValueError, match=r"\blength\b"):
        crypto.blake3_derive_key("ctx", b"abc", length=length)


@pytest.mark.parametrize("length", [32.0, "32", None, b"\x20", True, [32]], ids=repr)
def test_blake3_length_not_int(length):
    with pytest.raises(TypeError, match=r"\blength\b"):
        crypto.blake3(b"abc", length=length)
    with pytest.raises(TypeError, match=r"\blength\b"):
        crypto.blake3_derive_key("ctx", b"abc", length=length)


# ---- random bytes into the decoders --------------------------------------------------

# function -> (the arguments a random value may replace, check of a successful result)
DECODERS = {
    "mlkem768_decaps": (("dk", "ct"), lambda r: isinstance(r, bytes) and len(r) == 32),
    "mlkem768_encaps": (("ek", "m"), lambda r: [len(x) for x in r] == [CT, 32]),
    "xwing_decaps": (("sk", "ct"), lambda r: isinstance(r, bytes) and len(r) == 32),
    "xwing_encaps": (("pk", "eseed"), lambda r: [len(x) for x in r] == [XCT, 32]),
    "ed25519_verify": (("pk", "msg", "sig"), lambda r: r is None),
    "aead_decrypt": (("key", "nonce", "ciphertext", "ad"), None),
}


def decode_outcome(fname, args):
    """'ok' or the exception class name; fails the test on any other exception or bad result."""
    try:
        result = call(fname, **args)
    except (ValueError, TypeError) as e:
        assert str(e), "error without a message"
        return type(e).__name__
    check = DECODERS[fname][1]
    if fname == "aead_decrypt":
        assert isinstance(result, bytes) and len(result) == len(args.get("ciphertext", AEAD_CT)) - 16
    else:
        assert check(result), f"{fname} returned {result!r:.80}"
    return "ok"


@pytest.mark.parametrize("fname,name", [(f, a) for f, (names, _) in DECODERS.items() for a in names])
def test_every_length_0_to_3000(fname, name):
    """One random value of each length 0..3000 in one argument, the others valid."""
    rng = random.Random(f"{fname}/{name}")
    outcomes = {}
    for n in range(3001):
        outcome = decode_outcome(fname, {name: rng.randbytes(n)})
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert sum(outcomes.values()) == 3001
    assert outcomes.get("TypeError", 0) == 0, "bytes of a wrong length must be a ValueError"


@pytest.mark.parametrize("fname", sorted(DECODERS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_bytes_into_decoders(fname, data):
    names = DECODERS[fname][0]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True), label="replaced")
    args = {}
    for name in chosen:
        valid = dict((a, v) for a, v, _, _ in SPECS[fname])[name]
        length = data.draw(st.one_of(st.just(len(valid)), st.integers(0, 3000)), label=f"len({name})")
        args[name] = data.draw(st.binary(min_size=length, max_size=length), label=name)
    decode_outcome(fname, args)


def test_a_damaged_inbox_does_not_stop_a_restart(tmp_path):
    """Lines that are not inbox lines (damage, a torn line in the middle) are
    skipped when the watermarks are read at start, and said; the good lines
    count, and the unparsed lines may stand for the seqs between them."""
    from l2sess.node.store import inbox_watermarks

    stream, pk = "0f" * 16, "a" * 64
    inbox = tmp_path / "inbox.log"
    inbox.write_bytes(f"{stream} 5 {pk} 00\n".encode() + b"garbage \xff with four parts\n" +
                      f"{stream} x7 {pk} 00\n".encode() + f"{stream.upper()} 8 {pk} 00\n".encode() +
                      f"{stream} 6 {pk} \n".encode() + f"{stream} 7 {pk} 0g\n".encode() +
                      f"{stream} 8 {pk} 00\n".encode() + f"{stream} 9".encode())
    assert inbox_watermarks(str(inbox)) == ({stream: 8}, ["4 inbox line(s) do not parse"])


def _inbox_line(stream: str, seq: int) -> bytes:
    return f"{stream} {seq} {'a' * 64} 00\n".encode()


@pytest.mark.parametrize("where", ["last", "first", "middle"])
def test_an_inflated_seq_in_the_inbox_is_not_believed(tmp_path, where):
    """One line whose seq does not follow its stream (damage, or a hand that
    edited the file) would make a restarted node skip every new message up
    to it: the stream's longest run of consecutive seqs is believed instead,
    and the line is named."""
    from l2sess.node.store import inbox_watermarks

    stream, other = "0f" * 16, "1e" * 16
    good = [_inbox_line(stream, s) for s in range(1, 21)] + [_inbox_line(other, 7)]
    bad = _inbox_line(stream, 10**12)
    at = {"last": len(good), "first": 0, "middle": 10}[where]
    (tmp_path / "inbox.log").write_bytes(b"".join(good[:at] + [bad] + good[at:]))
    marks, problems = inbox_watermarks(str(tmp_path / "inbox.log"))
    assert marks == {stream: 20, other: 7}
    assert any("does not follow" in p for p in problems) and any("up to seq 20" in p for p in problems)


def test_inbox_watermarks_read_the_rotated_files_oldest_first(tmp_path):
    """inbox.2, inbox.1, inbox: the run goes on across the files."""
    from l2sess.node.store import inbox_watermarks, read_inbox

    stream = "0f" * 16
    for name, seqs in (("inbox.log.2", range(1, 4)), ("inbox.log.1", range(4, 7)), ("inbox.log", range(7, 9))):
        (tmp_path / name).write_bytes(b"".join(_inbox_line(stream, s) for s in seqs))
    assert inbox_watermarks(str(tmp_path / "inbox.log")) == ({stream: 8}, [])
    assert [line[1] for line in read_inbox(str(tmp_path / "inbox.log"))] == list(range(1, 9))


def test_a_senders_step_over_is_not_damage(tmp_path):
    """A sender restored from a checkpoint steps its seqs over at most
    L2S_DELIVERY_SEQ_RESERVE (PROTOCOL.md §5): lines 1..5 then 1,048,000..
    1,048,004 are one run, and the watermark is the last of them (a
    restarted receiver that believed 5 would write 1,048,000.. twice)."""
    from l2sess.node.store import STEP_OVER, inbox_watermarks

    stream = "0f" * 16
    seqs = list(range(1, 6)) + list(range(1_048_000, 1_048_005))
    (tmp_path / "inbox.log").write_bytes(b"".join(_inbox_line(stream, s) for s in seqs))
    assert STEP_OVER == 1 << 20
    assert inbox_watermarks(str(tmp_path / "inbox.log")) == ({stream: 1_048_004}, [])
