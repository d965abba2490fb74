"""A faithful emulator of the vendors' HTTP APIs, served under /sandbox/."""
