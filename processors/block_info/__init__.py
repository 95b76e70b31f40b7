"""block_info: Sawtooth's BlockInfo family (chain time for processors), as the official block-info-tp implements it."""
