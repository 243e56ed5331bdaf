"""The package version (the bottom layer: importing it imports nothing else)."""

__version__ = "0.1.0"
