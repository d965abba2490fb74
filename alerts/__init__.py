"""Rules, alerts and their history, live push to browsers, notifications."""
