"""`sawgrid sync`: a relational mirror of the ledger, fed by Sawtooth's event stream.

| module | concept |
|---|---|
| `subscriber.py` | the validator's event stream (ZMQ): subscribe, catch up, one `BlockEvents` per block |
| `deltas.py` | a block's state changes → decoded records → typed rows (via `processors.registry`) |
| `models.py` | the tables (SQLAlchemy 2, typed) and the versioning convention |
| `database.py` | engine, schema upgrade, writing a block and rolling back a fork, in one transaction |
| `applier.py` | what to do with the next block: append, skip a duplicate, switch a branch, or report a gap |
| `service.py` | the loop: retry while the database or the validator is down; the lag line |
| `statement.py` | a participant's statement, read from the mirror |
| `migrations/` | Alembic: the schema's history, shipped in the package |
"""
