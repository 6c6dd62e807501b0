"""The README's example, verbatim (test_mypy.py checks that it still is)."""
from l2sess import crypto
pk, sk = crypto.xwing_keygen()
ct, ss = crypto.xwing_encaps(pk)
assert crypto.xwing_decaps(sk, ct) == ss
