"""Chorus distribution: connected accounts, share requests, posting to the networks."""
