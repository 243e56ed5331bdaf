"""Panels of the gradient_relation experiment (to be filled: see luckbook/panels/two_layer.py)."""
