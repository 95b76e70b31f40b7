"""The verifier agent (`sawgrid verifier run`): leads its slots and countersigns enrollments."""
