"""Chorus engagement: tracked links and redirects, metric polling, signed webhooks."""
