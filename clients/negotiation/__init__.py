"""Privacy-preserving bilateral negotiation: the agents, the line manager and the market operator."""
