"""The guided "predict, then reveal" path of every lesson, as plain data (the lecturer's script).

Each lesson has 3-5 :class:`Step`s. A step sets the lesson's controls in one click (``state``:
widget key -> value, options given by their key), asks one multiple-choice question, and reveals
the answer in one sentence that is true for that state (``tests/app/test_guides.py`` recomputes
each claim with the lesson's experiment) and says where on the page to look (``look_at``). A step named
"Seed: ..." reproduces a slide of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from kdviz.i18n import N_


@dataclass(frozen=True)
class Step:
    title: str
    state: Mapping[str, object]  # widget key -> value (an option's key, a number, a list, a bool)
    question: str
    options: tuple[str, ...]
    answer: int  # index of the right option
    reveal: str  # one sentence, true for ``state``
    look_at: str  # where the page shows it: MAIN_CHART, or a name the page shows (see MAIN_CHART)

    def __post_init__(self):
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer must index the {len(self.options)} options, got {self.answer!r}")


# A step's ``look_at``: the lesson's main chart (ui.main_chart, right under the main controls on every
# screen), or a name the page shows word for word: a section's title (a subheader, or the expander it
# folds into in presentation mode), the start of a chart's title, a number's label. The guide's own tests
# check that the page at the step's state shows it, in English and in Chinese.
MAIN_CHART = N_("the chart right under the controls")

# The states start from each lesson's base, so a step never depends on what the student did before.
_MS = dict(ms_preset="MiniLLM-style bimodal", ms_k=2, ms_w1=0.5, ms_m1=-3.0, ms_s1=1.0, ms_w2=0.5, ms_m2=3.0,
           ms_s2=1.0, ms_mu0=1.5, ms_sigma0=1.0, ms_fixed=False, ms_opt="adam", ms_lr=0.1, ms_steps=200,
           ms_land="rkl")
_HT = dict(ht_preset="akl_bimodal", ht_init="uniform", ht_seed=1, ht_opt="sgd", ht_lr=1.0, ht_steps=200,
           ht_mu=0.5, ht_divs=["fkl", "rkl"], ht_share_n=10, ht_compare=200)
_GR = dict(gr_divs=["fkl", "rkl", "tvd"], gr_p=0.1, gr_alpha=0.1, gr_preset="zipf", gr_zipf=1.2,
           gr_classes=50, gr_student="random", gr_seed=1, gr_mu=0.5)
_OL = dict(ol_w=0.1, ol_d=6.0, ol_s=0.5, ol_divs=["fkl", "tvd"], ol_lr=0.1, ol_steps=200)
_OV = dict(ov_shape="box", ov_width=1.0, ov_shift=3.0, ov_range=8.0, ov_divs=["jsd", "tvd", "wasserstein"],
           ov_order=1)
_OT = dict(ot_preset="bimodal", ot_n=40, ot_eps=0.02, ot_order=2)

_WHERE = (N_("On the right mode, narrow"), N_("On the left mode, narrow"),
          N_("Between the modes, wide enough to cover both"))

GUIDES: dict[str, tuple[Step, ...]] = {
    "mode_seeking": (
        Step(N_("Seed: MiniLLM Fig. 2, forward KL"), _MS | dict(ms_divs=["fkl"]),
             N_("The student starts near the right mode (μ₀ = 1.5). Where does the forward-KL student end?"),
             _WHERE, 2,
             N_("Between the modes: μ ≈ 0 and σ ≈ 3.2. Forward KL must put mass wherever the teacher has "
                "some, so it covers both modes (mean seeking)."), MAIN_CHART),
        Step(N_("Seed: MiniLLM Fig. 2, reverse KL"), _MS | dict(ms_divs=["rkl"]),
             N_("Same teacher, same start. Where does the reverse-KL student end?"), _WHERE, 0,
             N_("On the right mode: μ ≈ 3 and σ ≈ 1. Reverse KL is punished for mass where the teacher has "
                "none, so it locks onto one mode (mode seeking)."), MAIN_CHART),
        Step(N_("Start on the other side"), _MS | dict(ms_divs=["rkl"], ms_mu0=-1.5),
             N_("Now the student starts at μ₀ = −1.5. Where does reverse KL end?"), _WHERE, 1,
             N_("On the left mode (μ ≈ −3): the two modes are equally good minima of reverse KL, and the "
                "start decides which one the student rolls into."), N_("Loss landscape over (μ, σ)")),
        Step(N_("JSD and TVD"), _MS | dict(ms_divs=["jsd", "tvd"]),
             N_("From the start near the right mode, where do JSD and TVD end?"),
             (N_("Both cover the two modes, like forward "
                 "KL"), N_("Both lock onto the right mode, like reverse "
                                                              "KL"),
              N_("One covers, one locks")), 0,
             N_("Both cover the two modes (μ ≈ 0, σ ≈ 3.2) on this teacher: their bounded losses still "
                "prefer one wide Gaussian to a single mode here."), MAIN_CHART),
    ),
    "head_tail": (
        Step(N_("Seed: AKL Fig. 2, epoch 1 vs epoch 200"), _HT,
             N_("Plain SGD (lr 1) from a uniform student. After 200 steps, which student matches the "
                "teacher?"),
             (N_("Only forward KL"), N_("Only reverse KL"), N_("Both")), 2,
             N_("Both: the error TVD(p, q) falls from 0.30 at step 1 to about 0.02 for each, as the paper "
                "says."),
             MAIN_CHART),
        Step(N_("Seed: AKL Fig. 2, head first, tail first"), _HT,
             N_("Over the first 10 steps, which loss spends the larger share of its progress on the head?"),
             (N_("Forward KL"), N_("Reverse KL"), N_("Too close to call")), 0,
             N_("Forward KL: 0.43 of its error reduction falls on the head, against 0.36 for reverse KL "
                "(0.41 if head and tail errors shrank at the same rate)."), N_("Where does the error go?")),
        Step(N_("Adam hides it"), _HT | dict(ht_opt="adam", ht_lr=0.1),
             N_("Same teacher and start, but Adam at lr 0.1. What happens to the gap between the head "
                "shares?"),
             (N_("It grows"), N_("It shrinks to about 0.02"), N_("It reverses")), 1,
             N_("It shrinks (0.42 against 0.40): Adam's first steps move every logit by about the learning "
                "rate, whatever the size of its gradient."), N_("Where does the error go?")),
        Step(N_("AKL: head to forward KL, tail to reverse KL"), _HT | dict(ht_divs=["fkl", "rkl", "akl"]),
             N_("Back to SGD. Where does AKL's head share fall?"),
             (N_("Above forward KL"), N_("Between forward and reverse KL"), N_("Below reverse KL")), 1,
             N_("Between the two (0.38): AKL weighs forward KL on the head and reverse KL on the tail."),
             N_("Where does the error go?")),
    ),
    "gradients": (
        Step(N_("Seed: KLD vs RKLD, a token the student ignores"), _GR,
             N_("The teacher gives a token p = 0.1. As the student's q of that token goes to 0, which loss "
                "pushes it up hardest?"), (N_("Forward KL"), N_("Reverse KL"), N_("TVD")), 0,
             N_("Forward KL: its coefficient is −1/q, about 10,000 at q = 10⁻⁴, over a hundred times reverse "
                "KL's."),
             MAIN_CHART),
        Step(N_("Seed: KLD vs RKLD, a token the student overdoes"), _GR,
             N_("Now the student puts almost all its mass (q → 1) on that token. Which loss pushes it down "
                "hardest?"), (N_("Forward KL"), N_("Reverse KL"), N_("TVD")), 1,
             N_("Reverse KL: its coefficient is about +33 at q = 1, against −1 for forward KL and 0 for "
                "TVD."),
             MAIN_CHART),
        Step(N_("A whole student: head or tail?"), _GR,
             N_("A random student on a Zipf teacher: which loss puts the largest share of its per-logit push "
                "on the head (the few most likely tokens)?"),
             (N_("Forward KL"), N_("Reverse KL"), N_("TVD")), 0,
             N_("Forward KL: 0.35 of its push is on the head, against 0.12 for reverse KL and 0.09 for TVD."),
             N_("Every divergence: which classes get the largest push")),
    ),
    "outliers": (
        Step(N_("Seed: f-distill Fig. 1, KLD vs TVD"), _OL,
             N_("The teacher has 10% of its mass in an outlier at d = 6. Where do the forward-KL and TVD "
                "students "
                "end?"), (N_("Both stay on the main "
                                  "mass"), N_("Forward KL moves toward the outlier, TVD "
                                                                "stays"),
                               N_("Both move halfway")), 1,
             N_("Forward KL's mean moves to 0.6 = w·d (it matches the teacher's mean), TVD's stays within "
                "0.05 of the main mass."), MAIN_CHART),
        Step(N_("The other losses"), _OL | dict(ol_divs=["fkl", "rkl", "skl", "jsd"]),
             N_("Which of forward KL, reverse KL, skew KL and JSD follow the outlier at w = 0.1, d = 6?"),
             (N_("All of them"), N_("Only forward KL"), N_("None")), 1,
             N_("Only forward KL: reverse KL, skew KL and JSD stay on the main mass (μ within 0.05 of 0)."),
             MAIN_CHART),
        Step(N_("A closer outlier: who jumps "
                "first?"), _OL | dict(ol_d=4.0, ol_divs=["fkl", "tvd", "skl", "jsd"]),
             N_("The outlier is now at d = 4. As its weight grows (sweep chart), which student jumps to "
                "cover it first?"), (N_("TVD"), N_("Skew KL"), N_("JSD")), 1,
             N_("Skew KL jumps at 12.5% outlier weight and JSD at 20%, while TVD never jumps (it drifts to μ "
                "≈ 0.3 at 30%)."), N_("Robustness: fitted mean and std as the outlier grows")),
    ),
    "overlap": (
        Step(N_("Seed: JSD = log 2 without overlap"), _OV,
             N_("At shift 3 the two boxes (width 1) no longer overlap. What is JSD?"),
             ("0", "log 2 ≈ 0.69", "3"), 1,
             N_("log 2 = 0.693, its ceiling, reached as soon as the supports are disjoint."),
             MAIN_CHART),
        Step(N_("Seed: no gradient without overlap"), _OV,
             N_("What is JSD's slope dD/ds at shift 3?"), ("0", "log 2", N_("It keeps growing")), 0,
             N_("0: JSD is flat once the boxes are apart, so the student gets no signal; Wasserstein's slope "
                "is still about 1."), N_("Each divergence and its gradient along the sweep")),
        Step(N_("Seed: Wasserstein sees the distance"), _OV,
             N_("What does Wasserstein (cost |x − y|) read at shift 3?"), ("log 2", "1", "3"), 2,
             N_("3.00: the distance every bit of mass must move."),
             MAIN_CHART),
        Step(N_("Partial overlap"), _OV | dict(ov_shift=0.6),
             N_("At shift 0.6 the boxes still share 40% of their width. What is JSD?"),
             ("0.6·log 2 ≈ 0.42", "log 2", "0"), 0,
             N_("0.42 = (s/w)·log 2: while the boxes overlap, JSD grows in proportion to the shift."),
             MAIN_CHART),
    ),
    "optimal_transport": (
        Step(N_("Seed: Wasserstein as a linear program"), _OT,
             N_("How does the exact optimal plan look?"),
             (N_("A thin path: few cells carry all the mass"), N_("A blur over the whole square"),
              N_("A uniform square")), 0,
             N_("A thin path: at most 79 of the 1,600 cells carry mass (a linear program's solution uses at "
                "most 2n − 1 of them)."), N_("Exact plan")),
        Step(N_("Seed: the Sinkhorn algorithm"), _OT | dict(ot_eps=0.001),
             N_("At ε = 0.02 Sinkhorn needs 21 iterations. With ε = 0.001, how many?"),
             (N_("Fewer"), N_("About the same"), N_("Many more")), 2,
             N_("Many more: 221, and the iteration animation moves for longer."),
             N_("Sinkhorn, iteration by iteration")),
        Step(N_("Entropy blurs the plan"), _OT | dict(ot_eps=0.1),
             N_("At ε = 0.1, is the Sinkhorn distance ⟨Γ, C⟩ above, equal to or below the exact W?"),
             (N_("Above"), N_("Equal"), N_("Below")), 0,
             N_("Above: 0.069 against 0.042, because the entropy spreads the plan onto longer moves."),
             N_("Sinkhorn against ε")),
        Step(N_("Seed: unbiased Sinkhorn divergence"), _OT | dict(ot_eps=0.1),
             N_("What is W_ε(p, p), the Sinkhorn distance from p to itself, at ε = 0.1?"),
             ("0", N_("Positive"), N_("Negative")), 1,
             N_("Positive (0.018): that bias is why the seed subtracts ½W_ε(p, p) + ½W_ε(q, q)."),
             N_("Bias W_ε(p, p)")),
    ),
}


def guide(lesson: str) -> tuple[Step, ...]:
    """The steps of ``lesson`` (a page's file stem)."""
    if lesson not in GUIDES:
        raise ValueError(f"no guided path for lesson {lesson!r}; lessons: {sorted(GUIDES)}")
    return GUIDES[lesson]


# The few words the lessons cannot avoid, in plain words (the glossary popover).
GLOSSARY: dict[str, str] = {
    N_("teacher p, student q"):
        N_("the big model's distribution over next tokens, and the small model's, which learns from it. "
           "Every loss is written D(p, q): teacher first."),
    N_("logits"):
        N_("the raw scores a model outputs, one per token; softmax turns them into probabilities."),
    N_("softmax"):
        N_("q_i = exp(z_i) / Σ_j exp(z_j): makes scores positive and summing to 1."),
    N_("temperature"):
        N_("logits are divided by T before the softmax; T > 1 flattens the distribution, T < 1 sharpens it."),
    N_("head / tail"):
        N_("the head is the few most likely tokens holding the first μ_AKL of the teacher's mass (AKL uses "
           "half); the tail is all the rest."),
    N_("mode seeking / mean seeking"):
        N_("a student that picks one peak of the teacher / one that spreads over all of them."),
    N_("transport plan"):
        N_("a table saying how much mass moves from each place of p to each place of q; its cost is "
           "Σ mass × distance."),
    N_("ε (epsilon)"):
        N_("the strength of the entropy blur in Sinkhorn: large ε gives a smooth plan that is fast to "
           "compute but biased; small ε is close to exact but slow."),
    N_("log-domain"):
        N_("computing with logarithms of the numbers (adding instead of multiplying) so that very small "
           "values do not round to 0."),
}
