"""Chorus gamification: points, badges, leaderboards and rewards."""
