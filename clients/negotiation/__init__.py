"""Privacy-preserving bilateral negotiation: the agents, the line manager and the market operator.

Off-chain maths (floats): agents.py (who trades, the paper's tables), cases.py (+ cases/*.json),
grid.py (IEEE 14-bus and its PTDF matrix, pandapower), params.py, algorithm.py (the C+I
iteration split by who computes what), optimum.py (the centralised QP, HiGHS), collusion.py
(section 4.1's attack), report.py (what `sawgrid negotiate --out` writes). The derivation is in
processors/negotiation/METHOD.md.
"""
