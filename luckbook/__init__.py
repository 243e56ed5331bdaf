"""luckbook: executable companion to Luck Matters and its follow-ups."""
__version__ = "0.1.0"
