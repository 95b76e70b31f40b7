"""sawgrid-market: registered prosumers trade hourly energy on an on-chain exchange.

Modules: `units` (integer units, limits, money arithmetic), `addresses`
(state layout and each action's inputs/outputs), `payload` (decoding and
field checks), `state` (typed reads/writes of records), `matching` (the
order book, pure), `handler` (the TransactionHandler).
"""
