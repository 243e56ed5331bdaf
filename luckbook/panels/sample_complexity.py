"""Panels of the sample_complexity experiment (to be filled: see luckbook/panels/two_layer.py)."""
