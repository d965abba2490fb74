"""Template tags of billing."""
