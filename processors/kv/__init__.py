"""sawgrid-kv: the trivial family (one transaction sets or deletes one key).

It exists so that devnet's tests and benchmarks have a processor that does the
least work a real one can; the market family's figures are ratios against it.
"""
