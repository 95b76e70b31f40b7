"""Fixed-point values and their Paillier encoding — integers only.

Real values (kW, prices per kW) are integers scaled by a session's `scale`
(DEFAULT_SCALE = 10^6: 1.5 kW is 1,500,000). A signed value x is a Paillier
plaintext as x mod N (a negative x is N − |x|); a plaintext p decodes as p if
p ≤ N // 2, else p − N. Sums of terms stay far inside ±N/2 for any key of 256
bits or more (MAX_VALUE), so the decoding is exact.

Contracts: a converged trade of q (fixed point kW) over the one-hour delivery
is q · 1000 // scale Wh, at a price λ (fixed point per kW, i.e. per kWh over
the hour) of λ · 10^6 // scale µEUR/kWh: with the default scale the price's
integer *is* µEUR/kWh. The paper's USD is the market's currency 1:1.
"""
from __future__ import annotations

DEFAULT_SCALE = 10**6
MIN_SCALE = 1
MAX_SCALE = 10**9
MAX_VALUE = 2**62          # |fixed-point value|: quantities, prices, revealed sums, line values
MIN_KEY_BITS = 256         # Paillier modulus; tests use 512, the bench and the report 1024 and 2048
MAX_KEY_BITS = 4096
MAX_AGENTS = 200
MAX_PAIRS = 10_000
MAX_LINES = 1_000
MAX_ITERATIONS = 100_000
MAX_SESSION_LENGTH = 64
MICRO = 10**6              # µEUR per EUR
WH_PER_KWH = 1000
MAX_RESIDUAL = 2**64 - 1   # a stored squared residual saturates here


def to_fixed(value: float, scale: int = DEFAULT_SCALE) -> int:
    """A real value as fixed point (nearest integer). Client side only."""
    return int(round(value * scale))


def from_fixed(value: int, scale: int = DEFAULT_SCALE) -> float:
    """Client side only: a fixed-point value as a float."""
    return value / scale


def encode(value: int, n: int) -> int:
    """A signed fixed-point value as a Paillier plaintext mod n."""
    return value % n


def decode(plaintext: int, n: int) -> int:
    """A Paillier plaintext mod n as a signed value (above n // 2: negative)."""
    return plaintext - n if plaintext > n // 2 else plaintext


def energy_wh(quantity: int, scale: int) -> int:
    """Wh of a one-hour trade of `quantity` fixed-point kW."""
    return quantity * WH_PER_KWH // scale


def price_micro(price: int, scale: int) -> int:
    """µEUR/kWh of a fixed-point price per kW (per kWh over the hour)."""
    return price * MICRO // scale


def int_from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "big")


def int_to_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
