"""The streaming normalizer gives exactly the fingerprint of the rule's plain statement
(SPEC rule 9: unify line endings, strip each line's trailing whitespace, drop blank
lines), whatever the chunking, also across very long lines written out before their end.
Fingerprints already stored must keep matching, so any difference is a defect."""

import hashlib
import hmac
import random
import re

import pytest

from ipp import fingerprints
from ipp.fingerprints import MIN_NORMALIZED_SIZE, fingerprint_chunks

KEY = b"k" * 32


def reference(content: bytes) -> str | None:
    """The rule, stated plainly (the first implementation, whole file in memory)."""
    lines = re.split(rb"[\r\n]", content)
    data = b"".join(line.rstrip() + b"\n" for line in lines if line.rstrip())
    if len(data) < MIN_NORMALIZED_SIZE:
        return None
    return hmac.new(KEY, data, hashlib.sha256).hexdigest()


def chunked(content: bytes, rng: random.Random):
    i = 0
    while i < len(content):
        n = rng.choice([1, 2, 3, 7, 64, 1000, 70000])
        yield content[i : i + n]
        i += n


ALPHABET = [b"a", b"b", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\x0b", b"\x0c", b"x" * 50, b" " * 9]


@pytest.mark.parametrize("seed", range(40))
def test_any_chunking_gives_the_fingerprint_of_the_plain_rule(seed, monkeypatch):
    rng = random.Random(seed)
    # Small limits make the long-line path (written out before the line ends) common.
    monkeypatch.setattr(fingerprints, "_LONG_LINE", rng.choice([4, 16, 256 * 1024]))
    content = b"".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 3000)))
    assert fingerprint_chunks(chunked(content, rng), key=KEY) == reference(content)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n\n\r\n",
        b"  leading kept\n" * 10,
        b"trailing dropped   \t\r\n" * 10,
        b"no final break " * 20,
        b"x" * 300_000 + b"   \n" + b"y" * 100,
        b" " * 300_000 + b"z" * 100,
        b"a" * 100 + b" " * 300_000,
    ],
)
def test_edge_cases_match_the_plain_rule(content):
    for size in (1, 5, 65536, 1 << 20):
        pieces = (content[i : i + size] for i in range(0, len(content), size))
        assert fingerprint_chunks(pieces, key=KEY) == reference(content)
