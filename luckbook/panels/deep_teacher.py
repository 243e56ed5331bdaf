"""Panels of the deep_teacher experiment (to be filled: see luckbook/panels/two_layer.py)."""
