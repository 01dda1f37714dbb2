"""kdviz.families: grid teachers, closed-form moments, the papers' presets, uploads, students."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from kdviz.families import (
    DISCRETE_PRESETS,
    MAX_CLASSES,
    GaussianMixture,
    GaussianStudent,
    Grid,
    SoftmaxStudent,
    akl_bimodal,
    akl_unimodal,
    discrete_teacher,
    teacher_from_array,
    zipf,
)

MIXTURES = [
    GaussianMixture((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0)),
    GaussianMixture((0.2, 0.5, 0.3), (-4.0, 0.5, 6.0), (0.5, 2.0, 1.2)),
    GaussianMixture((3.0, 1.0), (1.0, -2.0), (0.7, 3.0)),  # unnormalised weights
]


# --------------------------------------------------------------------------- grid and mixture
def test_grid_points_and_step():
    g = Grid(-2.0, 2.0, 5)
    np.testing.assert_allclose(g.points().numpy(), [-2, -1, 0, 1, 2])
    assert g.step == 1.0


@pytest.mark.parametrize("args", [(1.0, 1.0, 10), (2.0, -2.0, 10), (float("nan"), 1.0, 10),
                                  (0.0, float("inf"), 10), (0.0, 1.0, 1), (0.0, 1.0, 10.5),
                                  (0.0, 1.0, 50000)])
def test_grid_rejects_bad_ranges_and_sizes(args):
    with pytest.raises(ValueError, match="grid"):
        Grid(*args)


@pytest.mark.parametrize("mix", MIXTURES)
def test_mixture_is_normalised_on_its_grid(mix):
    for grid in (Grid(), Grid(-30, 30, 100)):
        lp = mix.log_prob(grid)
        assert lp.shape == (grid.n,)
        assert float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-12)
        assert float(mix.prob(grid).sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("mix", MIXTURES)
def test_mixture_closed_form_mean_and_variance_match_a_wide_fine_grid(mix):
    grid = Grid(-60.0, 60.0, 20000)
    x, p = grid.points().numpy(), mix.prob(grid).numpy()
    mean = float((x * p).sum())
    var = float(((x - mean) ** 2 * p).sum())
    assert mix.mean() == pytest.approx(mean, abs=1e-8)
    assert mix.variance() == pytest.approx(var, rel=1e-6)


def test_mixture_log_prob_matches_scipy_densities_up_to_normalisation():
    mix, grid = MIXTURES[1], Grid(-10, 10, 301)
    x = grid.points().numpy()
    w = np.array(mix.weights) / sum(mix.weights)
    dens = sum(wk * norm.pdf(x, m, s) for wk, m, s in zip(w, mix.means, mix.stds))
    np.testing.assert_allclose(mix.prob(grid).numpy(), dens / dens.sum(), rtol=1e-10)


def test_mixture_far_outside_the_grid_still_gives_a_finite_normalised_vector():
    lp = GaussianMixture((1.0,), (200.0,), (0.5,)).log_prob(Grid(-10, 10, 64))
    assert torch.isfinite(lp).all() and float(lp.exp().sum()) == pytest.approx(1.0)
    assert int(lp.argmax()) == 63  # the mass piles up at the edge nearest to the mode


@pytest.mark.parametrize("w,m,s,match", [
    ((0.5, 0.5), (0.0, 1.0), (1.0, -1.0), "stds"),
    ((0.5, 0.5), (0.0, 1.0), (1.0, 0.0), "stds"),
    ((-0.5, 1.5), (0.0, 1.0), (1.0, 1.0), "weights"),
    ((0.0, 0.0), (0.0, 1.0), (1.0, 1.0), "weights"),
    ((0.5, 0.5), (0.0, float("nan")), (1.0, 1.0), "finite"),
    ((0.5, 0.5), (0.0, 1.0), (1.0, float("inf")), "finite"),
    ((1.0,) * 6, (0.0,) * 6, (1.0,) * 6, "components"),
    ((0.5, 0.5), (0.0,), (1.0, 1.0), "components"),
])
def test_mixture_rejects_bad_parameters(w, m, s, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(w, m, s)


# --------------------------------------------------------------------------- presets
def test_akl_bimodal_preset_is_the_papers_toy():
    x, p = akl_bimodal()
    np.testing.assert_array_equal(x, np.arange(0, 100, 2))
    ref = 0.3 * norm.pdf(x, 25, 10) + 0.5 * norm.pdf(x, 75, 10)
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-12)
    assert p.sum() == pytest.approx(1.0)
    assert x[np.argmax(p)] in (74, 76)  # the heavier mode


def test_akl_unimodal_preset_is_the_papers_second_panel():
    x, p = akl_unimodal()
    np.testing.assert_array_equal(x, np.arange(0, 100, 2))
    ref = norm.pdf(x, 50, 15)
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-12)


def test_zipf_preset_is_a_power_law():
    x, p = zipf(20, 1.2)
    k = np.arange(1, 21)
    np.testing.assert_allclose(p, k ** -1.2 / (k ** -1.2).sum(), rtol=1e-12)
    np.testing.assert_allclose(p[:-1] / p[1:], (k[1:] / k[:-1]) ** 1.2)
    with pytest.raises(ValueError, match="exponent"):
        zipf(20, float("nan"))


def test_dirichlet_preset_is_seeded_positive_and_normalised():
    x1, p1 = discrete_teacher("dirichlet", 30, seed=3)
    _, p2 = discrete_teacher("dirichlet", 30, seed=3)
    _, p3 = discrete_teacher("dirichlet", 30, seed=4)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)
    assert (p1 > 0).all() and p1.sum() == pytest.approx(1.0) and x1.shape == (30,)
    with pytest.raises(ValueError, match="concentration"):
        discrete_teacher("dirichlet", 30, concentration=0.0)


@pytest.mark.parametrize("name", list(DISCRETE_PRESETS))
def test_every_preset_gives_a_probability_vector_with_a_label(name):
    label, _ = DISCRETE_PRESETS[name]
    x, p = discrete_teacher(name, 40)
    assert label and x.shape == p.shape == (40,)
    assert (p >= 0).all() and p.sum() == pytest.approx(1.0) and np.isfinite(x).all()


def test_discrete_teacher_rejects_unknown_names_and_sizes():
    with pytest.raises(ValueError, match="unknown discrete preset"):
        discrete_teacher("akl")
    with pytest.raises(ValueError, match="number of classes"):
        discrete_teacher("zipf", 1)
    with pytest.raises(ValueError, match="number of classes"):
        discrete_teacher("zipf", MAX_CLASSES + 1)


# --------------------------------------------------------------------------- uploads
def test_teacher_from_array_normalises_probabilities_and_softmaxes_logits():
    np.testing.assert_allclose(teacher_from_array([1, 3]), [0.25, 0.75])
    np.testing.assert_allclose(teacher_from_array([[0.2, 0.8]]), [0.2, 0.8])  # a single row is squeezed
    logits = [0.0, math.log(3.0)]
    np.testing.assert_allclose(teacher_from_array(logits, kind="logits"), [0.25, 0.75])
    # kind="auto": negative entries, so read as logits
    np.testing.assert_allclose(teacher_from_array([-1.0, -1.0 + math.log(3)]), [0.25, 0.75])
    big = teacher_from_array([1000.0, 0.0], kind="logits")
    assert np.isfinite(big).all() and big[0] == pytest.approx(1.0)


@pytest.mark.parametrize("values,kind,match", [
    ([[0.2, 0.8], [0.5, 0.5]], "auto", "one vector"),
    ([], "auto", "2 to"),
    ([1.0], "auto", "2 to"),
    ([0.5, float("nan")], "auto", "NaN"),
    ([0.5, float("inf")], "probs", "NaN or infinite"),
    ([0.5, -0.1, 0.6], "probs", ">= 0"),
    ([0.0, 0.0], "probs", "positive sum"),
    (["a", "b"], "auto", "numbers only"),
    ([0.5, 0.5], "softmax", "kind"),
    (list(range(MAX_CLASSES + 1)), "auto", "2 to"),
])
def test_teacher_from_array_rejects_bad_uploads(values, kind, match):
    with pytest.raises(ValueError, match=match):
        teacher_from_array(values, kind)


# --------------------------------------------------------------------------- students
def test_gaussian_student_is_a_normalised_discretised_gaussian():
    grid = Grid(-10, 10, 401)
    st = GaussianStudent(grid)
    theta = torch.stack([st.init_params(0.5, 1.5), st.init_params(-2.0, 0.7)])  # (2, 2)
    lq = st.log_prob(theta)
    assert lq.shape == (2, 401)
    q = lq.exp().numpy()
    x = grid.points().numpy()
    np.testing.assert_allclose(q.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose((q * x).sum(-1), [0.5, -2.0], atol=1e-9)
    np.testing.assert_allclose(np.sqrt((q * (x - [[0.5], [-2.0]]) ** 2).sum(-1)), [1.5, 0.7], rtol=1e-6)
    d = GaussianStudent.describe(theta.numpy())
    np.testing.assert_allclose(d["mu"], [0.5, -2.0])
    np.testing.assert_allclose(d["sigma"], [1.5, 0.7])


def test_gaussian_student_fixed_sigma_masks_the_scale_gradient():
    assert GaussianStudent(Grid(), fixed_sigma=True).grad_mask().tolist() == [1.0, 0.0]
    assert GaussianStudent(Grid()).grad_mask().tolist() == [1.0, 1.0]


@pytest.mark.parametrize("mu,sigma", [(0.0, 0.0), (0.0, -1.0), (float("nan"), 1.0), (0.0, float("inf"))])
def test_gaussian_student_rejects_bad_starts(mu, sigma):
    with pytest.raises(ValueError, match="sigma > 0"):
        GaussianStudent(Grid()).init_params(mu, sigma)


def test_softmax_student_random_start_is_seeded_uniform_in_0_1():
    a = SoftmaxStudent(50, "random", seed=1).init_params()
    b = SoftmaxStudent(50, "random", seed=1).init_params()
    c = SoftmaxStudent(50, "random", seed=2).init_params()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == (50,) and float(a.min()) >= 0.0 and float(a.max()) < 1.0
    expected = torch.rand(50, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(a, expected)  # torch.manual_seed(1) + torch.rand, as in AKL's toy


def test_softmax_student_uniform_start_and_log_prob():
    st = SoftmaxStudent(4, "uniform")
    z = st.init_params()
    assert z.tolist() == [0.0] * 4
    np.testing.assert_allclose(st.log_prob(z[None]).exp().numpy(), [[0.25] * 4])
    assert st.grad_mask().tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="softmax init"):
        SoftmaxStudent(4, "zeros").init_params()
