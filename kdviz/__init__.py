"""kdviz: divergences used as knowledge-distillation losses, fitted and visualised.

Library layout: :mod:`kdviz.divergences` (D(p, q) and the registry), :mod:`kdviz.transport`
(Wasserstein / Sinkhorn), :mod:`kdviz.families` (teachers and students), :mod:`kdviz.fitting`
(batched optimisation), :mod:`kdviz.analysis` (landscapes, gradients). Nothing here imports
streamlit. ``import kdviz`` imports nothing else: the names below load :mod:`kdviz.divergences`
on first use, so ``python -m kdviz`` and ``import kdviz.families`` pay only for what they use.
"""

__all__ = ["DIVERGENCES", "divergence", "divergence_from_log"]


def __getattr__(name: str):
    if name in __all__:
        from kdviz import divergences
        return getattr(divergences, name)
    raise AttributeError(f"module 'kdviz' has no attribute {name!r}")
