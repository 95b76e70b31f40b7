"""sawgrid-reputation: settlement of market contracts against metered delivery, and the Q-score."""
