"""Panels of the fanout experiment (to be filled: see luckbook/panels/two_layer.py)."""
