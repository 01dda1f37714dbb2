"""kdviz: divergences used as knowledge-distillation losses, fitted and visualised.

Library layout: :mod:`kdviz.divergences` (D(p, q) and the registry), :mod:`kdviz.transport`
(Wasserstein / Sinkhorn), :mod:`kdviz.families` (teachers and students), :mod:`kdviz.fitting`
(batched optimisation), :mod:`kdviz.analysis` (landscapes, gradients). Nothing here imports
streamlit.
"""

from kdviz.divergences import DIVERGENCES, divergence, divergence_from_log

__all__ = ["DIVERGENCES", "divergence", "divergence_from_log"]
