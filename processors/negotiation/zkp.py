"""The zero-knowledge proof that a revealed value is what a Paillier ciphertext holds.

Paillier with g = N + 1 (python-paillier's choice): Enc(m; r) = g^m · r^N mod N².
A value m matches ciphertext c exactly when u = c · g^(−m) mod N² is an
encryption of zero, i.e. an N-th residue mod N²: u = r^N for some r. The
prover (the key's owner, who can compute r) shows it knows r with the
three-move protocol of the paper's Appendix A (Damgård, Jurik & Nielsen 2010,
"A generalization of Paillier's public-key system", protocol for N^s-th
powers), made non-interactive by Fiat-Shamir:

    prover:   ρ random in Z*_N,  a = ρ^N mod N²
    challenge e = H(N, c, m, a, context) mod 2^t     (the hash replaces the verifier)
    prover:   z = ρ · r^e mod N
    verifier: z^N ≡ a · u^e (mod N²),  with a, z in range and coprime to N.

H is SHA-256 over `transcript()` below; t = `challenge_bits(N)`, below half
the modulus' bit length so the challenge stays under N's smallest prime
factor (the soundness condition), at most 128 bits. The context binds a proof
to one session, iteration and pair, so it cannot be replayed elsewhere.

Pure Python ints, deterministic: this is what the processor runs (verify);
the prover lives with the client (clients/sdk/negotiation.py: `prove_with`,
`prove`). No
python-paillier here: the processor needs two `pow`s and a multiplication,
and keeping phe (LGPL-3.0) out of the processor keeps it out of the chain's
consensus code (see README.md, "Libraries").
"""
from __future__ import annotations

import hashlib
from math import gcd

DOMAIN = b"sawgrid-negotiation/zkp/v1"
MAX_CHALLENGE_BITS = 128


def challenge_bits(n: int) -> int:
    """t: the challenge's bit length for modulus `n` (at least 1)."""
    return max(1, min(MAX_CHALLENGE_BITS, n.bit_length() // 2 - 1))


def encode_int(value: int) -> bytes:
    """A non-negative int as 4-byte big-endian length + minimal big-endian bytes (0 is empty)."""
    if value < 0:
        raise ValueError("encode_int: negative")
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return len(body).to_bytes(4, "big") + body


def transcript(n: int, c: int, m: int, a: int, context: bytes) -> bytes:
    """The canonical bytes the Fiat-Shamir hash reads: DOMAIN, then N, c, m mod N,
    a and the context, each length-prefixed (encode_int; the context as
    4-byte length + bytes)."""
    return (DOMAIN + encode_int(n) + encode_int(c) + encode_int(m % n) + encode_int(a)
            + len(context).to_bytes(4, "big") + context)


def challenge(n: int, c: int, m: int, a: int, context: bytes) -> int:
    """e = SHA-256(transcript) as a big-endian int, mod 2^challenge_bits(n)."""
    digest = hashlib.sha256(transcript(n, c, m, a, context)).digest()
    return int.from_bytes(digest, "big") % (1 << challenge_bits(n))


def zero_part(n: int, c: int, m: int) -> int:
    """u = c · g^(−m) mod N² with g = N + 1, using g^k = 1 + kN (mod N²)."""
    n2 = n * n
    return c * (1 - (m % n) * n) % n2


def is_ciphertext(n: int, c: int) -> bool:
    """c is a Paillier ciphertext for modulus n: 0 < c < N² and gcd(c, N) = 1."""
    return 0 < c < n * n and gcd(c, n) == 1


def verify(n: int, c: int, m: int, a: int, z: int, context: bytes) -> str | None:
    """None if (a, z) proves that `c` encrypts `m` under modulus `n`; otherwise
    the reason it does not (for the refusal)."""
    n2 = n * n
    if not is_ciphertext(n, c):
        return "the ciphertext is out of range"
    if not (0 < a < n2 and gcd(a, n) == 1):
        return "proof.a is out of range (must be in [1, N^2) and coprime to N)"
    if not (0 < z < n and gcd(z, n) == 1):
        return "proof.z is out of range (must be in [1, N) and coprime to N)"
    e = challenge(n, c, m, a, context)
    if pow(z, n, n2) != a * pow(zero_part(n, c, m), e, n2) % n2:
        return "the proof does not verify: the value is not what the ciphertext holds"
    return None

