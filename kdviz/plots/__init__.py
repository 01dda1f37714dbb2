"""Plotly figures, one module per lesson, built from the dataclasses of :mod:`kdviz.experiments`."""
