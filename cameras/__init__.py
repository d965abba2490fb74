"""Sites, cameras, regions (fences and zones) and frame sources."""
