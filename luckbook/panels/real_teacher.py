"""Panels of the real_teacher experiment (to be filled: see luckbook/panels/two_layer.py)."""
