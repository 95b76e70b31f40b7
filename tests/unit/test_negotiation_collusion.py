"""Section 4.1's collusion attack (clients/negotiation/collusion.py) on plain C+I: the colluding
neighbours recover a producer's private bounds from the messages they receive."""
from __future__ import annotations

import pytest

from sawgrid.clients.negotiation import algorithm, collusion
from sawgrid.clients.negotiation.agents import PAPER_AGENTS
from sawgrid.clients.negotiation.cases import load_case

CASE = load_case("paper")
PRODUCERS = [a for a in PAPER_AGENTS if a.is_producer]


@pytest.mark.parametrize("agent", PRODUCERS, ids=lambda a: a.name)
def test_raising_the_price_reveals_the_upper_bound(agent):
    seen = collusion.run_attack(CASE, agent.name, collusion.RAISE)
    recovered = collusion.recover_bound(seen, collusion.RAISE)
    assert recovered.bound == pytest.approx(agent.p_max, abs=1e-9)


@pytest.mark.parametrize("agent", PRODUCERS, ids=lambda a: a.name)
def test_lowering_the_price_reveals_the_lower_bound(agent):
    seen = collusion.run_attack(CASE, agent.name, collusion.LOWER)
    recovered = collusion.recover_bound(seen, collusion.LOWER)
    assert recovered.bound == pytest.approx(agent.p_min, abs=1e-9)


def test_the_attack_needs_the_quantities_in_the_clear():
    seen = collusion.hide_quantities(collusion.run_attack(CASE, "S1"))
    assert collusion.recover_bound(seen) == collusion.Recovery(None, None)


def test_public_prices_and_own_terms_give_the_quantities_back():
    # what the colluders can still compute when only the pair's new price is public
    seen = collusion.run_attack(CASE, "S4")
    rebuilt = collusion.counterparty_quantities(
        CASE.params.initial_price, collusion.hide_quantities(seen), CASE.params.alpha)
    assert [m.quantity for m in rebuilt] == pytest.approx([m.quantity for m in seen], abs=1e-9)
    assert collusion.recover_bound(rebuilt).bound == pytest.approx(5.0, abs=1e-9)


def test_fewer_colluders_see_only_their_share():
    seen = [m for m in collusion.run_attack(CASE, "S1") if m.colluder != "B3"]
    recovered = collusion.recover_bound(seen)
    assert recovered.bound is not None and recovered.bound < 7.0 - 0.5


@pytest.mark.parametrize("agent", PRODUCERS, ids=lambda a: a.name)
def test_on_an_honest_run_it_reads_a_true_bound_or_nothing(agent):
    # without the push, the reading is either nothing or a true bound: plain C+I also leaks a
    # bound an agent only touches in the opening iterations (S1 at 7 kW while prices climb)
    messages = []

    def record(state, _residuals):
        for m in ("B1", "B2", "B3"):
            messages.append(collusion.Message(state.iteration, agent.name, m,
                                              state.prices[(agent.name, m)], 0.0,
                                              state.trades[agent.name][m]))

    algorithm.run_plain(CASE, on_iteration=record)
    for direction, bound in ((collusion.RAISE, agent.p_max), (collusion.LOWER, agent.p_min)):
        read = collusion.recover_bound(messages, direction).bound
        assert read is None or read == pytest.approx(bound, abs=1e-9)


def test_only_a_producer_can_be_attacked():
    with pytest.raises(ValueError, match="not a producer"):
        collusion.run_attack(CASE, "B1")
