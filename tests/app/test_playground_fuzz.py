"""The playground under random allowed values on every control: no exception, no NaN or infinity
in any figure, whatever the combination (issue 4's robustness target)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from figjson import all_finite
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "playground.py")
TIMEOUT = 300
ROUNDS = 4  # rounds of "set every control at random, rerun"


def _random_url(at: AppTest, rng: random.Random) -> dict:
    """Random allowed values for every control the last run showed, as URL query parameters
    (every playground control is bound to the URL; choices travel as their display labels)."""
    query = {}

    def number(lo, hi, integer):
        v = rng.choice([lo, hi, lo + (hi - lo) * rng.random()])
        return str(int(round(v)) if integer else float(v))

    for w in at.slider:
        query[w.key] = number(w.min, w.max, isinstance(w.min, int) and isinstance(w.max, int))
    for w in at.number_input:
        lo = w.min if w.min is not None else -10.0
        hi = w.max if w.max is not None else 10.0
        query[w.key] = number(lo, hi, isinstance(w.value, int))
    for w in at.checkbox:
        query[w.key] = rng.choice(["true", "false"])
    for w in list(at.radio) + list(at.selectbox) + list(at.select_slider):
        query[w.key] = rng.choice(list(w.options))
    for w in at.multiselect:
        query[w.key] = rng.sample(list(w.options), rng.randint(1, min(3, len(w.options))))
    return {k: v for k, v in query.items() if k and k.startswith("pg_")}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_allowed_values_on_every_playground_control_give_no_exception_and_finite_figures(seed):
    rng = random.Random(seed)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    for _ in range(ROUNDS):
        query = _random_url(at, rng)
        at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
        at.query_params.update(query)
        at.run()
        assert not at.exception, (query, [e.message for e in at.exception])
        applied = [w for w in at.slider if w.key in query]
        assert all(abs(float(w.value) - float(query[w.key])) <= (w.step or 0) for w in applied), \
            ("the URL did not set the sliders", query)
        for chart in at.get("plotly_chart"):
            assert all_finite(json.loads(chart.proto.spec)), (query, "a figure contains NaN or infinity")
