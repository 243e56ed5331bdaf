"""Panels of the bn_bias experiment (to be filled: see luckbook/panels/two_layer.py)."""
