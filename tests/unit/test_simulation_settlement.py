"""The experiment's settlement accounting (clients/simulation/settlement.py) and
its report section, on hand-built contracts."""
from __future__ import annotations

import numpy as np
import pytest

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.simulation import settlement
from sawgrid.clients.simulation.report import reputation as section
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb

OP, S, B, BAD_S, BAD_B = "op", "seller", "buyer", "bad-seller", "bad-buyer"
ROLES = {BAD_S: settlement.MALICIOUS_SELLER, BAD_B: settlement.MALICIOUS_BUYER}


def contract(seller, buyer, energy=1_000, delivered=None, stage=pb.SETTLED, cause=pb.CAUSE_UNSET, credit=0,
             guarantee=0, grid=False):
    """1 kWh at 0.10 EUR/kWh, no penalty, wire fee 0.01 EUR/kWh: base 100000, fee 10000, total 110000."""
    delivered = energy if delivered is None else delivered
    c = pb.Contract(id="1/1/1", day=1, hour=1, seller=seller, buyer=buyer, energy=energy, price=100_000,
                    penalty=1000, base=100_000, surcharge=0, wire_fee=0 if grid else 10_000,
                    total=100_000 if grid else 110_000, grid=grid, stage=stage, cause=cause, delivered=delivered,
                    credit=credit, guarantee=guarantee)
    if stage == pb.DECLINED:
        c.declined_at = pb.EXECUTION
    share = delivered / energy
    if cause == pb.BUYER_DEFAULT:
        c.paid_base = guarantee
    else:
        c.paid_base, c.paid_wire_fee = int(100_000 * share), int(c.wire_fee * share)
        c.refunded = c.total - c.paid_base - c.paid_wire_fee
    return c


def honest(key):
    return key not in ROLES


def test_a_settled_contract_loses_nothing_either_way():
    c = contract(S, B)
    assert settlement.settled_losses(c, OP, honest).total == 0
    assert settlement.pay_at_match_losses(c, OP, honest).total == 0


def test_a_seller_that_never_delivers():
    c = contract(BAD_S, B, delivered=0, stage=pb.DECLINED, cause=pb.SELLER_SHORTFALL)
    assert settlement.settled_losses(c, OP, honest).total == 0                 # refunded from escrow
    lost = settlement.pay_at_match_losses(c, OP, honest)
    assert (lost.buyers, lost.sellers, lost.operator) == (110_000, 0, 0)      # paid at match for nothing


def test_a_buyer_on_credit_that_never_pays():
    c = contract(S, BAD_B, stage=pb.DECLINED, cause=pb.BUYER_DEFAULT, credit=110_000, guarantee=100_000)
    lost = settlement.settled_losses(c, OP, honest)
    # the seller got the guarantee (grid buy price = the contract price here); the operator paid it and lost its fee
    assert (lost.buyers, lost.sellers, lost.operator, lost.debt) == (0, 0, 110_000, 110_000)
    lost = settlement.pay_at_match_losses(c, OP, honest)
    assert (lost.buyers, lost.sellers, lost.operator) == (0, 100_000, 10_000)
    grid = contract(OP, BAD_B, stage=pb.DECLINED, cause=pb.BUYER_DEFAULT, credit=100_000, grid=True)
    assert settlement.settled_losses(grid, OP, honest).operator == 100_000   # the grid's energy, unpaid
    assert settlement.pay_at_match_losses(grid, OP, honest).operator == 100_000


def test_tally_counts_outcomes_causes_and_energy():
    contracts = [contract(S, B), contract(BAD_S, B, delivered=0, stage=pb.DECLINED, cause=pb.SELLER_SHORTFALL),
                 contract(BAD_S, OP, delivered=0, stage=pb.DECLINED, cause=pb.SELLER_SHORTFALL, grid=True),
                 pb.Contract(id="1/1/9", seller=S, buyer=B, energy=5, stage=pb.PREPARED)]
    t = settlement.tally(contracts, OP, ROLES)
    assert t["outcomes"] == {"settled": 1, "declined": 2, "open": 1}
    assert t["declined"] == [{"stage": "execution", "cause": "seller_shortfall", "contracts": 2,
                              "energy_wh": 2_000, "delivered_wh": 0}]
    assert t["undelivered"] == {"total_wh": 2_000, "to_honest_buyers_wh": 1_000, "to_the_grid_wh": 1_000}
    assert t["losses_settled"]["total_ueur"] == 0
    assert t["losses_pay_at_match"]["buyers_ueur"] == 110_000
    assert t["losses_pay_at_match"]["operator_ueur"] == 100_000


def test_roles_take_the_biggest_sellers_then_the_biggest_buyers():
    surplus = np.array([[0, 5], [9, 9], [1, 0], [0, 0]])
    short = np.array([[7, 0], [0, 0], [3, 0], [1, 1]])
    roles = settlement.choose_roles(surplus, short, 1, 2)
    assert (roles.sellers, roles.buyers) == ((1,), (0, 2))
    assert roles.role(1) == settlement.MALICIOUS_SELLER and roles.role(3) == settlement.HONEST
    with pytest.raises(SawgridError, match="only 3 participant"):
        settlement.choose_roles(surplus, short, 4, 0)
    with pytest.raises(SawgridError, match="only 4 participants"):
        settlement.choose_roles(surplus, short, 3, 2)


def test_settings_let_newcomers_buy_on_credit_and_the_baseline_disables_eligibility():
    run, base = settlement.experiment_settings(), settlement.baseline_settings()
    assert run.credit_score == DEFAULTS.initial_score and run.min_score == DEFAULTS.min_score
    assert (base.min_score, base.credit_score) == (0, 0)


def test_the_section_compares_with_both_definitions():
    scenario = {"outcomes": {"settled": 5, "declined": 1, "open": 0}, "declined": [],
                "undelivered": {"total_wh": 1_000, "to_honest_buyers_wh": 1_000, "to_the_grid_wh": 0},
                "losses_settled": settlement.Losses(operator=10_000, debt=10_000).as_dict(),
                "losses_pay_at_match": settlement.Losses(buyers=110_000).as_dict(), "malicious": []}
    baseline = {**scenario, "undelivered": {"total_wh": 9_000, "to_honest_buyers_wh": 9_000, "to_the_grid_wh": 0},
                "losses_pay_at_match": settlement.Losses(buyers=990_000).as_dict()}
    c = section._comparison(scenario, baseline)
    assert c["kept_by_escrow_eur"] == pytest.approx(0.10)
    assert c["kept_vs_baseline_eur"] == pytest.approx(0.98)
    assert c["energy_kept_kwh"] == pytest.approx(8.0)
    assert section._comparison(scenario, None)["kept_vs_baseline_eur"] is None
