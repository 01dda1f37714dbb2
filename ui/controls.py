"""The controls several pages share. Each draws its widgets (in the current container, usually the
sidebar) and returns plain values; the keys are ``{prefix}_...`` and every one is bound to the URL."""

from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

import streamlit as st

from kdviz.divergences import DIVERGENCES
from kdviz.experiments import head_tail as ht
from kdviz.families import DISCRETE_PRESETS
from kdviz.i18n import N_, _
from ui import url
from ui.cache import cached

OPTIMIZER_LABELS = {"adam": "Adam", "sgd": "SGD"}
# What the numbers of an uploaded teacher are (ht.KIND_OPTIONS's keys), as shown.
KIND_LABELS = {"auto": N_("auto"), "probabilities": N_("probabilities"), "logits": N_("logits")}
# Defaults of the mixture's components, in order: the bimodal teacher, then spare components.
COMPONENTS = ((0.5, -3.0, 1.0), (0.5, 3.0, 1.0), (0.3, 0.0, 1.0), (0.2, 6.0, 0.5), (0.2, -6.0, 0.5))


def divergence_picker(key: str, options: Sequence[str], default: Sequence[str], label: str | None = None):
    """Registry names, shown with their labels in the viewer's language (a URL may use the name or
    a label); ``label``: the widget's, translated by the caller (default "Divergences")."""
    return tuple(url.choices(label or _("Divergences"), options, default, key=key,
                             format_func=lambda n: DIVERGENCES[n].display_label))


def mixture_teacher(prefix: str, *, max_components: int, means: tuple[float, float], stds: tuple[float,
                                                                                                 float],
                    presets: Mapping[str, tuple] | None = None) -> tuple[tuple, tuple, tuple]:
    """A Gaussian mixture: ``(weights, means, stds)``, each component's mean and std within the given
    ranges. With ``presets`` (name -> (weights, means, stds); the names marked with N_, shown
    translated) a preset box fills the controls; a URL naming only a preset gets that preset's
    teacher."""
    keys = [f"{prefix}_k", *(f"{prefix}_{c}{i}" for c in "wms" for i in range(1, max_components + 1))]

    def apply_preset(name: str | None = None):
        weights, centres, widths = presets[name or st.session_state[f"{prefix}_preset"]]
        st.session_state[f"{prefix}_k"] = len(weights)
        for i, (w, m, s) in enumerate(zip(weights, centres, widths), 1):
            st.session_state.update({f"{prefix}_w{i}": w, f"{prefix}_m{i}": m, f"{prefix}_s{i}": s})

    if presets:
        named = st.query_params.get(f"{prefix}_preset")
        if f"{prefix}_preset" not in st.session_state and named in presets and not any(k in st.query_params
                                                                                        for k in keys):
            apply_preset(named)
        url.choice(_("Preset"), list(presets), key=f"{prefix}_preset", widget=st.selectbox,
                   on_change=apply_preset, format_func=_, help=_("Fills the controls below."))
    k = url.slider(_("Components"), 1, max_components, 2, key=f"{prefix}_k")
    weights, centres, widths = [], [], []
    for i in range(1, k + 1):
        w0, m0, s0 = COMPONENTS[i - 1]
        c1, c2, c3 = st.columns(3)
        with c1:
            weights.append(url.number(_("weight {i}").format(i=i), 0.0, 1.0, w0, 0.05, key=f"{prefix}_w{i}"))
        with c2:
            centres.append(url.number(_("mean {i}").format(i=i), *means, m0, 0.25, key=f"{prefix}_m{i}"))
        with c3:
            widths.append(url.number(_("std {i}").format(i=i), *stds, max(s0, stds[0]), 0.05,
                                     key=f"{prefix}_s{i}"))
    return tuple(weights), tuple(centres), tuple(widths)


def discrete_teacher(prefix: str, *, label: str | None = None, default: str | None = None,
                     classes: tuple[int, int, int] = (5, 500, 5)) -> dict:
    """A discrete preset and its settings, as keyword arguments of the experiments: ``preset``,
    ``n_classes`` (AKL's toys have their own 50), ``zipf_exponent``, ``dirichlet_seed``; ``label``:
    the preset box's, translated by the caller (default "Preset")."""
    presets = list(DISCRETE_PRESETS)
    preset = url.choice(label or _("Preset"), presets, key=f"{prefix}_preset", widget=st.selectbox,
                        index=presets.index(default or presets[0]),
                        format_func=lambda k: _(DISCRETE_PRESETS[k][0]))
    out = dict(preset=preset, n_classes=50, zipf_exponent=1.2, dirichlet_seed=0)
    if preset == "zipf":
        out["zipf_exponent"] = url.slider(_("Zipf exponent"), 0.0, 3.0, 1.2, 0.05, key=f"{prefix}_zipf")
    if preset == "dirichlet":
        out["dirichlet_seed"] = int(url.number(_("Dirichlet seed"), 0, 10**6, 0, key=f"{prefix}_dseed"))
    if preset not in ht.AKL_PRESETS:
        lo, hi, step = classes
        out["n_classes"] = url.slider(_("Classes"), lo, hi, 50, step, key=f"{prefix}_classes")
    return out


@cached(entry_mb=0.1, budget_mb=2)
def _parse(digest: str, is_npy: bool, kind: str, _data: bytes):
    """An upload parsed once per content (``digest``, the bytes' SHA-256) and kind, for everyone:
    ``((values or None, error or None), {})``."""
    try:
        return (tuple(float(v) for v in ht.parse_teacher_file(".npy" if is_npy else ".csv", _data, kind)),
                None), {}
    except ValueError as err:
        return (None, str(err)), {}


def teacher_upload(prefix: str) -> tuple[float, ...] | None:
    """A teacher vector from an uploaded CSV/TXT/NPY, or None (no file, or an error shown here).

    The file's size is checked before it is read, its line count before it is parsed, and each
    distinct content is parsed once (:func:`_parse`)."""
    kind = url.choice(_("The numbers are"), list(ht.KIND_OPTIONS), key=f"{prefix}_kind", horizontal=True,
                      format_func=lambda k: _(KIND_LABELS.get(k, k)),
                      help=_("auto: probabilities if all are >= 0, logits otherwise"))
    up = st.file_uploader(_("Teacher: one column (or row) of probabilities or logits; CSV, TXT or .npy"),
                          ["csv", "txt", "npy"], key=f"{prefix}_upload",
                          max_upload_size=ht.MAX_UPLOAD_BYTES // 2**20)
    st.download_button(_("Example file (CSV)"), ht.sample_csv(), "kdviz_teacher_example.csv", "text/csv",
                       key=f"{prefix}_example")
    if up is None:
        return None
    if up.size > ht.MAX_UPLOAD_BYTES:
        st.error(_("Cannot use {name}: the file is {size:.1f} MB; the limit is {limit:.0f} MB.").format(
            name=up.name, size=up.size / 1e6, limit=ht.MAX_UPLOAD_BYTES / 2**20))
        return None
    data = up.getvalue()
    (values, error), __ = _parse(hashlib.sha256(data).hexdigest(), up.name.lower().endswith(".npy"),
                                ht.KIND_OPTIONS[kind], data)
    if error:
        st.error(_("Cannot use {name}: {error}.").format(name=up.name, error=error))
    return values


def optimiser(prefix: str, *, lrs: Sequence[float], steps: tuple[int, int, int, int],
              choices: Sequence[str] = tuple(OPTIMIZER_LABELS), lr: float = 0.1) -> tuple[str, float, int]:
    """``(optimizer, learning rate, steps)``; ``steps`` is (low, high, default, step) of its slider."""
    optimizer = url.choice(_("Optimiser"), choices, key=f"{prefix}_opt", horizontal=True,
                           format_func=lambda o: OPTIMIZER_LABELS.get(o, o.upper()))
    lr = url.choice(_("Learning rate"), lrs, key=f"{prefix}_lr", widget=st.select_slider, value=lr,
                    format_func=lambda v: f"{v:g}")
    lo, hi, default, step = steps
    return optimizer, float(lr), int(url.slider(_("Steps"), lo, hi, default, step, key=f"{prefix}_steps"))


def warn_lr(lr: float, optimizer: str, limits: Mapping[str, float]) -> None:
    """A warning when ``lr`` is above ``limits[optimizer]``, where the fits oscillate or blow up."""
    if lr > limits[optimizer]:
        st.warning(_("Learning rate {lr:g} is very large for {optimizer}: the fits may oscillate or "
                     "diverge.").format(lr=lr, optimizer=OPTIMIZER_LABELS.get(optimizer, optimizer)))
