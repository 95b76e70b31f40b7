"""The off-chain PAR control centre.

It reads a day's trades from the chain, measures the peak-to-average ratio
(PAR), and writes penalties and recommended purchase schedules for the next
day as signed batches. Modules: `metrics` (PAR, V(S)), `penalties` (the
paper's penalty rule), `recommend` (schedules: `optimal` and `astar`),
`chain` (reading trades and writing batches), `service` (`par run`,
`par serve`, the read-only API).
"""
