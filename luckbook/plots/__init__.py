"""Figures: one module per experiment (``plots/<experiment>.py``), each function taking a
result and returning a matplotlib ``Figure``; :mod:`.style` holds the book's style.

Figures know no sliders: the panels that put them behind sliders are in
:mod:`luckbook.panels`.
"""
