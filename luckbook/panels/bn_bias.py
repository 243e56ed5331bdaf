"""Panels of E7, BatchNorm biases (the Real-data chapter): none. E7's figures are drawn from
one result; the chapter's sliders are E8's (:mod:`luckbook.panels.real_teacher`)."""
