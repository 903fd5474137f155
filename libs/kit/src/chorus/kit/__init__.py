"""Chorus shared kernel: the small set of pieces every service stands on."""
