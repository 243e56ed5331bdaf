"""Panels of the deep_specialization experiment (to be filled: see luckbook/panels/two_layer.py)."""
