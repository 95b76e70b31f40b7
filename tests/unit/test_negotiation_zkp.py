"""The Paillier zero-knowledge proof (processors/negotiation/zkp.py) against vectors
worked out by hand with tiny primes, then with real phe keys.

Tiny key: p = 5, q = 7, N = 35, N² = 1225, g = N + 1 = 36, φ(N) = 24.
  Enc(m = 4; r = 3):  g^4 = 1 + 4·35 = 141 (mod 1225);  3^35 ≡ 607 (mod 1225)
                      c = 141 · 607 mod 1225 = 1062
  u = c · g^(−4) = 1062 · (1 − 4·35) mod 1225 = 607 = r^N      (an encryption of zero)
  prover: ρ = 2,  a = 2^35 mod 1225 = 18
  challenge bits t = 35.bit_length() // 2 − 1 = 2; e = SHA-256(transcript) mod 4, which is
  3 for the context b"demo/1/0" (the transcript is rebuilt below from README's definition)
  z = ρ · r^e mod N = 2 · 27 mod 35 = 19;   check: 19^35 ≡ 374 ≡ 18 · 607^3 (mod 1225)
The powers were taken by repeated multiplication, not with the module under test.
"""
from __future__ import annotations

import hashlib

import pytest

from sawgrid.clients.sdk import negotiation as neg
from sawgrid.processors.negotiation import units, zkp

N, N2, C, M, R, RHO, A, Z = 35, 1225, 1062, 4, 3, 2, 18, 19
CONTEXT = b"demo/1/0"


def _int(v: int) -> bytes:
    body = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def test_the_transcript_is_the_documented_encoding():
    expected = (b"sawgrid-negotiation/zkp/v1" + b"\0\0\0\x01\x23" + b"\0\0\0\x02\x04\x26" + b"\0\0\0\x01\x04"
                + b"\0\0\0\x01\x12" + b"\0\0\0\x08" + CONTEXT)
    assert zkp.transcript(N, C, M, A, CONTEXT) == expected
    assert zkp.encode_int(0) == b"\0\0\0\0" and zkp.encode_int(256) == b"\0\0\0\x02\x01\x00"
    digest = int.from_bytes(hashlib.sha256(expected).digest(), "big")
    assert zkp.challenge_bits(N) == 2 and zkp.challenge(N, C, M, A, CONTEXT) == digest % 4 == 3


def test_the_hand_computed_pieces():
    assert zkp.zero_part(N, C, M) == 607
    assert zkp.challenge_bits(2**511 + 1) == 128 and zkp.challenge_bits(2**63) == 31


def test_the_hand_computed_proof_verifies():
    assert zkp.verify(N, C, M, A, Z, CONTEXT) is None
    assert neg.prove_with(N, C, M, R, RHO, CONTEXT) == (A, Z)


@pytest.mark.parametrize("c, m, a, z, context, reason", [
    (C, 7, A, Z, CONTEXT, "does not verify"),               # another value (e = 3 too) for the same c
    (C, M, A, 17, CONTEXT, "does not verify"),              # 17^35 ≡ 68, not 374
    (C, M, A, Z, b"demo/2/0", "does not verify"),           # e = 2 there: 18 · 607² ≢ 374
    (C, M, 0, Z, CONTEXT, "proof.a is out of range"),
    (C, M, N2, Z, CONTEXT, "proof.a is out of range"),
    (C, M, 25, Z, CONTEXT, "proof.a is out of range"),      # gcd(25, 35) = 5
    (C, M, A, 0, CONTEXT, "proof.z is out of range"),
    (C, M, A, N, CONTEXT, "proof.z is out of range"),
    (C, M, A, 14, CONTEXT, "proof.z is out of range"),      # gcd(14, 35) = 7
    (N2, M, A, Z, CONTEXT, "ciphertext is out of range"),
    (0, M, A, Z, CONTEXT, "ciphertext is out of range"),
    (70, M, A, Z, CONTEXT, "ciphertext is out of range"),   # a multiple of N
])
def test_proofs_that_must_fail(c, m, a, z, context, reason):
    found = zkp.verify(N, c, m, a, z, context)
    assert found is not None and reason in found


def test_a_t_bit_challenge_lets_a_cheater_through_with_probability_two_to_minus_t():
    """Why keys are large: with N = 35 the challenge has 2 bits. Claiming m = 5 for the
    same c under the context b"demo/1/0" happens to give e = 0, where any z with
    z^N = a passes (z = ρ = 2). At 512 bits and more t = 128: 2^-128."""
    assert zkp.challenge(N, C, 5, A, CONTEXT) == 0
    assert zkp.verify(N, C, 5, A, RHO, CONTEXT) is None


def test_fixed_point_encoding_of_negative_values():
    assert units.encode(-3, N) == 32 and units.decode(32, N) == -3
    assert units.decode(17, N) == 17 and units.decode(18, N) == -17
    assert units.to_fixed(-1.2345675) == -1_234_568 and units.energy_wh(1_500_000, 10**6) == 1500


@pytest.fixture(scope="module")
def keys():
    return neg.generate_keypair(512)


def test_phe_ciphertexts_add_and_the_owner_proves_the_sum(keys):
    n = keys.n
    c1, c2 = neg.encrypt(keys.public, -123_456), neg.encrypt(keys.public, 1_000)
    aggregate = c1 * c2 % (n * n)
    assert neg.decrypt(keys, aggregate) == -122_456
    proof = neg.prove(keys, aggregate, -122_456, CONTEXT)
    a, z = units.int_from_bytes(proof.a), units.int_from_bytes(proof.z)
    assert zkp.verify(n, aggregate, units.encode(-122_456, n), a, z, CONTEXT) is None
    for wrong in (-122_455, 122_456, 0):
        assert "does not verify" in zkp.verify(n, aggregate, units.encode(wrong, n), a, z, CONTEXT)
    assert "does not verify" in zkp.verify(n, c1, units.encode(-122_456, n), a, z, CONTEXT)


def test_the_prover_recovers_the_randomness(keys):
    n = keys.n
    r = 123_456_789
    c = pow(n + 1, 42, n * n) * pow(r, n, n * n) % (n * n)
    assert neg.randomness(keys, c, 42) == r
    # a proof built from the wrong randomness does not verify
    a, z = neg.prove_with(n, c, 42, r + 1, 5, CONTEXT)
    assert zkp.verify(n, c, 42, a, z, CONTEXT) is not None
