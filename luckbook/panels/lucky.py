"""Panels of the lucky experiment (to be filled: see luckbook/panels/two_layer.py)."""
