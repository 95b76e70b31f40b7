"""Client side of sawgrid-negotiation: Paillier keys and ciphertexts (python-paillier),
the zero-knowledge prover, payload builders, signing, and reading a session.

    from sawgrid.clients.sdk import negotiation as neg
    keys = neg.generate_keypair(2048)                     # an agent's Paillier keys
    c = neg.encrypt(owner_public_key, term)               # a signed fixed-point term
    s = neg.decrypt(keys, aggregate)                      # the pair's summed update
    proof = neg.prove(keys, aggregate, s, context)        # Appendix A, Fiat-Shamir
    neg.submit(ledger, signer, neg.reveal(session, k, [(pair, s, proof)]))

phe does key generation, encryption and decryption on fixed-point ints
(`raw_encrypt` / `raw_decrypt`, g = N + 1). The prover is ours: it recovers
the ciphertext's randomness r from the private key (u = c·g^(−m) = r^N mod
N², so r = u^(N^(−1) mod φ(N)) mod N) and answers the challenge of
processors/negotiation/zkp.py, the very definition the processor verifies. Its modular
powers go through phe's `powmod` (gmpy2's when the `fast` extra is installed, Python's
`pow` otherwise); the processor itself always uses Python's `pow`.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from math import gcd
from typing import Iterable, Sequence

from google.protobuf.message import DecodeError
from phe import paillier
from phe.util import powmod
from sawtooth_signing import Signer

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.processors.negotiation import addresses, zkp
from sawgrid.processors.negotiation import units as u
from sawgrid.processors.negotiation.addresses import NEGOTIATION
from sawgrid.protos import negotiation_pb2 as pb
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.protos.sawtooth import Transaction

DEFAULT_TIMEOUT = 60.0
DEFAULT_KEY_BITS = 2048


# --------------------------------------------------------------------------
# Paillier (python-paillier) and the prover
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Keypair:
    public: paillier.PaillierPublicKey
    private: paillier.PaillierPrivateKey

    @property
    def n(self) -> int:
        return self.public.n


def generate_keypair(bits: int = DEFAULT_KEY_BITS) -> Keypair:
    """A fresh Paillier key pair with an N of `bits` bits."""
    public, private = paillier.generate_paillier_keypair(n_length=bits)
    return Keypair(public, private)


def public_key(n: int) -> paillier.PaillierPublicKey:
    """The public key for modulus `n` (as published on chain)."""
    return paillier.PaillierPublicKey(n)


def encrypt(public: paillier.PaillierPublicKey, value: int) -> int:
    """Enc(value mod N) with fresh randomness: a signed fixed-point value as a ciphertext."""
    return public.raw_encrypt(u.encode(value, public.n))


def decrypt(keys: Keypair, ciphertext: int) -> int:
    """The signed fixed-point value a ciphertext under `keys` holds."""
    return u.decode(keys.private.raw_decrypt(ciphertext), keys.n)


def randomness(keys: Keypair, ciphertext: int, value: int) -> int:
    """r with ciphertext = g^value · r^N mod N² (needs the factors of N)."""
    n = keys.n
    phi = (keys.private.p - 1) * (keys.private.q - 1)
    return int(powmod(zkp.zero_part(n, ciphertext, value) % n, pow(n, -1, phi), n))


def prove_with(n: int, c: int, m: int, r: int, rho: int, context: bytes) -> tuple[int, int]:
    """(a, z) for c = g^m · r^N mod N² and a random `rho` in Z*_N (pure: the vectors' prover)."""
    n2 = n * n
    a = int(powmod(rho, n, n2))
    e = zkp.challenge(n, c, m, a, context)
    return a, rho * int(powmod(r, e, n)) % n


def prove(keys: Keypair, ciphertext: int, value: int, context: bytes) -> pb.Proof:
    """The non-interactive proof that `ciphertext` holds `value` (zkp.verify accepts it)."""
    n = keys.n
    m = u.encode(value, n)
    r = randomness(keys, ciphertext, m)
    while True:
        rho = secrets.randbelow(n - 1) + 1
        if gcd(rho, n) == 1:
            break
    a, z = prove_with(n, ciphertext, m, r, rho, context)
    return pb.Proof(a=u.int_to_bytes(a), z=u.int_to_bytes(z))


# --------------------------------------------------------------------------
# Payload builders, signing, submitting
# --------------------------------------------------------------------------
def open_session(session: str, line_manager: str, day: int, hour: int, agents: Sequence[pb.AgentSpec],
                 pairs: Sequence[pb.PairSpec], line_limits: Sequence[int], max_iterations: int, eps_power: int,
                 eps_price: int, scale: int = u.DEFAULT_SCALE) -> pb.NegotiationPayload:
    """Open a negotiation (market operator); values in fixed point of `scale`."""
    return pb.NegotiationPayload(open=pb.Open(
        session=session, line_manager=line_manager, day=day, hour=hour, agents=agents, pairs=pairs,
        line_limits=list(line_limits), max_iterations=max_iterations, eps_power=eps_power, eps_price=eps_price,
        scale=scale))


def publish_key(session: str, n: int) -> pb.NegotiationPayload:
    """Publish an agent's Paillier modulus (agent)."""
    return pb.NegotiationPayload(publish_key=pb.PublishKey(session=session, n=u.int_to_bytes(n)))


def submit_terms(session: str, iteration: int, quantities: Sequence[int],
                 terms: Sequence[tuple[int, int]]) -> pb.NegotiationPayload:
    """An agent's quantities (ciphertexts under the line manager's key) and its (pair, ciphertext)
    terms (under each pair owner's key), for every pair it is in, in pair order."""
    return pb.NegotiationPayload(submit_terms=pb.SubmitTerms(
        session=session, iteration=iteration, quantities=[u.int_to_bytes(c) for c in quantities],
        terms=[pb.EncryptedTerm(pair=j, ciphertext=u.int_to_bytes(c)) for j, c in terms]))


def reveal(session: str, iteration: int, sums: Iterable[tuple[int, int, pb.Proof]]) -> pb.NegotiationPayload:
    """A pair owner's decrypted sums with their proofs, for every pair it owns, in pair order."""
    return pb.NegotiationPayload(reveal=pb.Reveal(
        session=session, iteration=iteration,
        sums=[pb.Revealed(pair=j, value=value, proof=proof) for j, value, proof in sums]))


def set_line_prices(session: str, iteration: int, flows: Sequence[int], upper: Sequence[int],
                    lower: Sequence[int], power_mismatch: int = 0, trade_change: int = 0,
                    finals: Iterable[tuple[int, int, pb.Proof]] = ()) -> pb.NegotiationPayload:
    """The line manager's step: flows and line prices μ+, μ- per limited line, eq. 19's mismatch
    and trade change as it found them, and at convergence every quantity with its proof
    ((2j or 2j + 1, value, proof))."""
    return pb.NegotiationPayload(set_line_prices=pb.SetLinePrices(
        session=session, iteration=iteration, flows=list(flows), upper=list(upper), lower=list(lower),
        power_mismatch=power_mismatch, trade_change=trade_change,
        finals=[pb.Revealed(pair=k, value=value, proof=proof) for k, value, proof in finals]))


def close_iteration(session: str, iteration: int, converged: bool) -> pb.NegotiationPayload:
    """The market operator's verdict on eq. 19 (the processor recomputes it)."""
    return pb.NegotiationPayload(close_iteration=pb.CloseIteration(
        session=session, iteration=iteration, converged=converged))


def negotiation_transaction(signer: Signer, payload: pb.NegotiationPayload,
                            session: pb.Session | None = None) -> Transaction:
    """A signed sawgrid-negotiation transaction with the inputs/outputs `addresses.access`
    declares (`session`: the record, needed for close_iteration)."""
    inputs, outputs = addresses.access(payload, signer.get_public_key().as_hex(), session)
    return make_transaction(signer, NEGOTIATION.name, NEGOTIATION.versions[0],
                            payload.SerializeToString(deterministic=True), inputs, outputs)


def submit(ledger: LedgerClient, signer: Signer, payload: pb.NegotiationPayload, session: pb.Session | None = None,
           wait: bool = True, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Sign `payload` as a batch of its own and submit it (waiting for commit with
    `wait`). Returns the transaction id; raises BatchInvalid or BatchTimeout."""
    transaction = negotiation_transaction(signer, payload, session)
    batch = make_batch(signer, [transaction])
    if wait:
        ledger.submit_and_wait([batch], timeout=timeout)
    else:
        ledger.submit([batch])
    return transaction.header_signature


def batch(signer: Signer, payload: pb.NegotiationPayload, session: pb.Session | None = None):
    """A signed one-transaction batch (for submitting many at once)."""
    return make_batch(signer, [negotiation_transaction(signer, payload, session)])


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def read_session(ledger: LedgerClient, session: str) -> pb.Session | None:
    """The Session record, or None."""
    address = addresses.session_address(session)
    data = ledger.state(address)
    if data is None:
        return None
    try:
        return pb.Session.FromString(data)
    except DecodeError:
        raise SawgridError(f"state at {address} is not a negotiation Session") from None
