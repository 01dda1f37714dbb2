"""The guided "predict, then reveal" path of every lesson, as plain data (the lecturer's script).

Each lesson has 3-5 :class:`Step`s. A step sets the lesson's controls in one click (``state``:
widget key -> value, options given by their key), asks one multiple-choice question, and reveals
the answer in one sentence that is true for that state (``tests/app/test_guides.py`` recomputes
each claim with the lesson's experiment). A step named "Seed: ..." reproduces a slide of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Step:
    title: str
    state: Mapping[str, object]  # widget key -> value (an option's key, a number, a list, a bool)
    question: str
    options: tuple[str, ...]
    answer: int  # index of the right option
    reveal: str  # one sentence, true for ``state``
    look_at: str  # the chart on the page that shows it

    def __post_init__(self):
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer must index the {len(self.options)} options, got {self.answer!r}")


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

_WHERE = ("On the right mode, narrow", "On the left mode, narrow",
          "Between the modes, wide enough to cover both")

GUIDES: dict[str, tuple[Step, ...]] = {
    "mode_seeking": (
        Step("Seed: MiniLLM Fig. 2, forward KL", _MS | dict(ms_divs=["fkl"]),
             "The student starts near the right mode (μ₀ = 1.5). Where does the forward-KL student end?",
             _WHERE, 2,
             "Between the modes: μ ≈ 0 and σ ≈ 3.2. Forward KL must put mass wherever the teacher has some, "
             "so it covers both modes (mean seeking).", "The fit, step by step"),
        Step("Seed: MiniLLM Fig. 2, reverse KL", _MS | dict(ms_divs=["rkl"]),
             "Same teacher, same start. Where does the reverse-KL student end?", _WHERE, 0,
             "On the right mode: μ ≈ 3 and σ ≈ 1. Reverse KL is punished for mass where the teacher "
             "has none, so it locks onto one mode (mode seeking).", "The fit, step by step"),
        Step("Start on the other side", _MS | dict(ms_divs=["rkl"], ms_mu0=-1.5),
             "Now the student starts at μ₀ = −1.5. Where does reverse KL end?", _WHERE, 1,
             "On the left mode (μ ≈ −3): the two modes are equally good minima of reverse KL, and the start "
             "decides which one the student rolls into.", "Loss landscape over (μ, σ)"),
        Step("JSD and TVD", _MS | dict(ms_divs=["jsd", "tvd"]),
             "From the start near the right mode, where do JSD and TVD end?",
             ("Both cover the two modes, like forward KL", "Both lock onto the right mode, like reverse KL",
              "One covers, one locks"), 0,
             "Both cover the two modes (μ ≈ 0, σ ≈ 3.2) on this teacher: their bounded losses still prefer "
             "one wide Gaussian to a single mode here.", "The fit, step by step"),
    ),
    "head_tail": (
        Step("Seed: AKL Fig. 2, epoch 1 vs epoch 200", _HT,
             "Plain SGD (lr 1) from a uniform student. After 200 steps, which student matches the teacher?",
             ("Only forward KL", "Only reverse KL", "Both"), 2,
             "Both: the error TVD(p, q) falls from 0.30 at step 1 to about 0.02 for each, as the paper says.",
             "The paper's panels: step 1 against step 200"),
        Step("Seed: AKL Fig. 2, head first, tail first", _HT,
             "Over the first 10 steps, which loss spends the larger share of its progress on the head?",
             ("Forward KL", "Reverse KL", "Too close to call"), 0,
             "Forward KL: 0.43 of its error reduction falls on the head, against 0.36 for reverse KL "
             "(0.41 if head and tail errors shrank at the same rate).", "Where does the error go?"),
        Step("Adam hides it", _HT | dict(ht_opt="adam", ht_lr=0.1),
             "Same teacher and start, but Adam at lr 0.1. What happens to the gap between the head shares?",
             ("It grows", "It shrinks to about 0.02", "It reverses"), 1,
             "It shrinks (0.42 against 0.40): Adam's first steps move every logit by about the learning "
             "rate, whatever the size of its gradient.", "Where does the error go?"),
        Step("AKL: head to forward KL, tail to reverse KL", _HT | dict(ht_divs=["fkl", "rkl", "akl"]),
             "Back to SGD. Where does AKL's head share fall?",
             ("Above forward KL", "Between forward and reverse KL", "Below reverse KL"), 1,
             "Between the two (0.38): AKL weighs forward KL on the head and reverse KL on the tail.",
             "Where does the error go?"),
    ),
    "gradients": (
        Step("Seed: KLD vs RKLD, a token the student ignores", _GR,
             "The teacher gives a token p = 0.1. As the student's q of that token goes to 0, which loss "
             "pushes it up hardest?", ("Forward KL", "Reverse KL", "TVD"), 0,
             "Forward KL: its coefficient is −1/q, about 10,000 at q = 10⁻⁴, over a hundred "
             "times reverse KL's.",
             "The coefficient chart"),
        Step("Seed: KLD vs RKLD, a token the student overdoes", _GR,
             "Now the student puts almost all its mass (q → 1) on that token. Which loss pushes it down "
             "hardest?", ("Forward KL", "Reverse KL", "TVD"), 1,
             "Reverse KL: its coefficient is about +33 at q = 1, against −1 for forward KL and 0 for TVD.",
             "The coefficient chart"),
        Step("A whole student: head or tail?", _GR,
             "A random student on a Zipf teacher: which loss puts the largest share of its per-logit push "
             "on the head (the few most likely tokens)?", ("Forward KL", "Reverse KL", "TVD"), 0,
             "Forward KL: 0.35 of its push is on the head, against 0.12 for reverse KL and 0.09 for TVD.",
             "The per-logit gradient chart"),
    ),
    "outliers": (
        Step("Seed: f-distill Fig. 1, KLD vs TVD", _OL,
             "The teacher has 10% of its mass in an outlier at d = 6. Where do the forward-KL and TVD "
             "students end?", ("Both stay on the main mass", "Forward KL moves toward the outlier, TVD stays",
                               "Both move halfway"), 1,
             "Forward KL's mean moves to 0.6 = w·d (it matches the teacher's mean), TVD's stays within 0.05 "
             "of the main mass.", "The fitted students"),
        Step("The other losses", _OL | dict(ol_divs=["fkl", "rkl", "skl", "jsd"]),
             "Which of forward KL, reverse KL, skew KL and JSD follow the outlier at w = 0.1, d = 6?",
             ("All of them", "Only forward KL", "None"), 1,
             "Only forward KL: reverse KL, skew KL and JSD stay on the main mass (μ within 0.05 of 0).",
             "The fitted students"),
        Step("A closer outlier: who jumps first?", _OL | dict(ol_d=4.0, ol_divs=["fkl", "tvd", "skl", "jsd"]),
             "The outlier is now at d = 4. As its weight grows (sweep chart), which student jumps to cover "
             "it first?", ("TVD", "Skew KL", "JSD"), 1,
             "Skew KL jumps at 12.5% outlier weight and JSD at 20%, while TVD never jumps (it drifts to "
             "μ ≈ 0.3 at 30%).", "The robustness sweep"),
    ),
    "overlap": (
        Step("Seed: JSD = log 2 without overlap", _OV,
             "At shift 3 the two boxes (width 1) no longer overlap. What is JSD?",
             ("0", "log 2 ≈ 0.69", "3"), 1,
             "log 2 = 0.693, its ceiling, reached as soon as the supports are disjoint.",
             "The sliding boxes and the value curves"),
        Step("Seed: no gradient without overlap", _OV,
             "What is JSD's slope dD/ds at shift 3?", ("0", "log 2", "It keeps growing"), 0,
             "0: JSD is flat once the boxes are apart, so the student gets no signal; Wasserstein's slope is "
             "still about 1.", "The gradient curves"),
        Step("Seed: Wasserstein sees the distance", _OV,
             "What does Wasserstein (cost |x − y|) read at shift 3?", ("log 2", "1", "3"), 2,
             "3.00: the distance every bit of mass must move.", "The sliding boxes and the value curves"),
        Step("Partial overlap", _OV | dict(ov_shift=0.6),
             "At shift 0.6 the boxes still share 40% of their width. What is JSD?",
             ("0.6·log 2 ≈ 0.42", "log 2", "0"), 0,
             "0.42 = (s/w)·log 2: while the boxes overlap, JSD grows in proportion to the shift.",
             "The sliding boxes and the value curves"),
    ),
    "optimal_transport": (
        Step("Seed: Wasserstein as a linear program", _OT,
             "How does the exact optimal plan look?",
             ("A thin path: few cells carry all the mass", "A blur over the whole square",
              "A uniform square"), 0,
             "A thin path: at most 79 of the 1,600 cells carry mass (a linear program's solution uses at "
             "most 2n − 1 of them).", "The exact plan"),
        Step("Seed: the Sinkhorn algorithm", _OT | dict(ot_eps=0.001),
             "At ε = 0.02 Sinkhorn needs 21 iterations. With ε = 0.001, how many?",
             ("Fewer", "About the same", "Many more"), 2,
             "Many more: 221, and the iteration animation moves for longer.",
             "Sinkhorn, iteration by iteration"),
        Step("Entropy blurs the plan", _OT | dict(ot_eps=0.1),
             "At ε = 0.1, is the Sinkhorn distance ⟨Γ, C⟩ above, equal to or below the exact W?",
             ("Above", "Equal", "Below"), 0,
             "Above: 0.069 against 0.042, because the entropy spreads the plan onto longer moves.",
             "Sinkhorn against ε"),
        Step("Seed: unbiased Sinkhorn divergence", _OT | dict(ot_eps=0.1),
             "What is W_ε(p, p), the Sinkhorn distance from p to itself, at ε = 0.1?",
             ("0", "Positive", "Negative"), 1,
             "Positive (0.018): that bias is why the seed subtracts ½W_ε(p, p) + ½W_ε(q, q).",
             "Sinkhorn against ε"),
    ),
}


def guide(lesson: str) -> tuple[Step, ...]:
    """The steps of ``lesson`` (a page's file stem)."""
    if lesson not in GUIDES:
        raise ValueError(f"no guided path for lesson {lesson!r}; lessons: {sorted(GUIDES)}")
    return GUIDES[lesson]


# The few words the lessons cannot avoid, in plain words (the glossary popover).
GLOSSARY: dict[str, str] = {
    "teacher p, student q": "the big model's distribution over next tokens, and the small model's, which "
                            "learns from it. Every loss is written D(p, q): teacher first.",
    "logits": "the raw scores a model outputs, one per token; softmax turns them into probabilities.",
    "softmax": "q_i = exp(z_i) / Σ_j exp(z_j): makes scores positive and summing to 1.",
    "temperature": "logits are divided by T before the softmax; T > 1 flattens the distribution, T < 1 "
                   "sharpens it.",
    "head / tail": "the head is the few most likely tokens holding the first μ_AKL of the teacher's mass "
                   "(AKL uses half); the tail is all the rest.",
    "mode seeking / mean seeking": "a student that picks one peak of the teacher / one that spreads over all "
                                   "of them.",
    "transport plan": "a table saying how much mass moves from each place of p to each place of q; its "
                      "cost is Σ mass × distance.",
    "ε (epsilon)": "the strength of the entropy blur in Sinkhorn: large ε gives a smooth plan that is fast "
                   "to compute but biased; small ε is close to exact but slow.",
    "log-domain": "computing with logarithms of the numbers (adding instead of multiplying) so that very "
                  "small values do not round to 0.",
}
