"""Panels of the directional experiment (to be filled: see luckbook/panels/two_layer.py)."""
