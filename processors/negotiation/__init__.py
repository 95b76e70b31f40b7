"""sawgrid-negotiation: the paper's smart contract for privacy-preserving P2P negotiation (see README.md)."""
