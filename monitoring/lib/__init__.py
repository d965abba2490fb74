"""Neutral helpers every room may import: no models of the domain apps."""
