"""Chorus content: program, enrollment, curation and approval, compliance, feed."""
