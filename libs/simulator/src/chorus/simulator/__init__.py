"""A local simulator of the subset of the LinkedIn and X APIs Chorus uses."""
