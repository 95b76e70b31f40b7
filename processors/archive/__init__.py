"""sawgrid-archive: one hash-chained record per finished trading day, and pruning.

Modules: `addresses` (state layout, the market and reputation records a day
consists of, and each action's inputs/outputs), `payload` (decoding and field
checks), `record` (the day's record from the market's records: pure, shared
with the client that verifies it), `state` (typed reads, buffered writes and
deletes), `handler` (the TransactionHandler), `genesis` (the Config).
"""
