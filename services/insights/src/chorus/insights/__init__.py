"""Chorus insights: the programme's analytics."""
