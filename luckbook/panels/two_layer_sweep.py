"""Panels of the two_layer_sweep experiment (to be filled: see luckbook/panels/two_layer.py)."""
