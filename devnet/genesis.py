"""What devnet sets up on a chain: block 0, then each family's setup batches.

A real Sawtooth network gets its genesis from `sawset genesis` + `sawadm
genesis`, and its first block waits for the processors it needs. Devnet
commits an empty block 0 at once instead. Each setup step is then queued as
an ordinary batch, on every start, for as long as its effect is missing from
state. It stays PENDING until its family's processor registers and does not
hold up other batches. A restart before that happened simply queues it again.

The steps are signed by the operator key (`operator` in the key directory,
created if missing). Today there is one: the market's Init, which makes that
key the market's operator and system operator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sawtooth_signing import Signer

from sawgrid.clients import market
from sawgrid.processors.market.addresses import config_address
from sawgrid.protos.sawtooth import Transaction

# Wire fee devnet's market starts with (µEUR/kWh, i.e. 0.01 EUR/kWh); an
# operator changes it with `sawgrid operator wire-fee`.
GENESIS_WIRE_FEE = 10_000

StateReader = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class SetupStep:
    name: str
    needed: Callable[[StateReader], bool]                # True while its effect is missing
    transactions: Callable[[Signer], list[Transaction]]  # signed by the operator


SETUP_STEPS: list[SetupStep] = [
    SetupStep(
        name="market init",
        needed=lambda read: read(config_address()) is None,
        transactions=lambda operator: [market.market_transaction(operator, market.init(GENESIS_WIRE_FEE))],
    ),
]


def pending_steps(read: StateReader) -> list[SetupStep]:
    """The setup steps whose effect is not in state yet."""
    return [step for step in SETUP_STEPS if step.needed(read)]
