"""The playground's table is human: no "None", no -4e-07 for a zero, ∞ and "never" in words."""

import math

from kdviz.experiments import playground as pg


def test_human_shows_zero_to_precision_as_0_infinity_as_the_sign_and_nan_as_a_dash():
    assert pg.human(-4.217e-7) == "0" and pg.human(3e-6) == "0"
    assert pg.human(1.23456) == "1.235" and pg.human(-2.5e-4) == "-0.00025"
    assert pg.human(math.inf) == "∞" and pg.human(-math.inf) == "−∞"
    assert pg.human(math.nan) == "—" and pg.human(math.nan, "— (diverged)") == "— (diverged)"


def test_the_summary_at_the_pages_defaults_has_no_none_and_forward_kls_zero_mean_reads_0():
    res = pg.playground()  # the page's defaults: forward KL ends at mean -4.2e-07 on the symmetric teacher
    table = pg.summary(res)
    cells = [c for column in table.values() for c in column]
    assert all(isinstance(c, str) and c not in ("None", "nan", "") for c in cells)
    assert table["diverged at step"] == ["never", "never"]
    fkl = table["divergence"].index("Forward KL")
    assert abs(res.q_mean[fkl]) < pg.ZERO and table["mean of q"][fkl] == "0"
    assert table["parameters"][fkl] == "—"
