"""kdviz: page configuration, the viewer's display, navigation and the fit engine's warm-up only (the
lessons live in pages/)."""

import threading
from pathlib import Path

import streamlit as st
import torch

from kdviz.fitting import warm_up
from kdviz.i18n import N_, _
from ui.display import setup as setup_display

# One script thread per browser session shares this process's 2 cores with every other session.
# torch's default intra-op pool (one thread per core) would make concurrent fits fight over the
# cores and oversubscribe them; our tensors are small (V <= a few thousand), so one thread per
# fit is as fast for a single user and scales better with many. Set once per process.
if torch.get_num_threads() != 1:
    torch.set_num_threads(1)


@st.cache_resource(show_spinner=False)
def _warm_up_in_background() -> threading.Thread:
    """Once per server process: the one-off costs of a first fit (importing torch._dynamo, ~1.5 s)
    are paid in the background while the first visitor reads the home page."""
    thread = threading.Thread(target=warm_up, name="kdviz-warm-up", daemon=True)
    thread.start()
    return thread


_warm_up_in_background()

st.set_page_config(page_title="kdviz", page_icon=":material/ssid_chart:", layout="wide",
                   initial_sidebar_state="auto",  # collapsed on phones
                   menu_items={"About": "kdviz: divergences used as knowledge-distillation losses for LLMs."})

# (section, file, title, icon); Home is the default page.
PAGES = [
    (N_("Start"), "pages/home.py", N_("Home"), ":material/home:"),
    (N_("Lessons"), "pages/mode_seeking.py", N_("Mode seeking vs mean seeking"),
     ":material/center_focus_strong:"),
    (N_("Lessons"), "pages/head_tail.py", N_("Head vs tail (AKL)"), ":material/stacked_bar_chart:"),
    (N_("Lessons"), "pages/gradients.py", N_("Gradients"), ":material/trending_down:"),
    (N_("Lessons"), "pages/outliers.py", N_("Outliers and TVD"), ":material/scatter_plot:"),
    (N_("Lessons"), "pages/overlap.py", N_("Overlap, JSD and Wasserstein"), ":material/join_inner:"),
    (N_("Lessons"), "pages/optimal_transport.py", N_("Optimal transport and Sinkhorn"),
     ":material/local_shipping:"),
    (N_("Lessons"), "pages/llm_logits.py", N_("From toys to LLM logits"), ":material/memory:"),
    (N_("Papers"), "pages/paper_results.py", N_("Results from the papers"), ":material/table_chart:"),
    (N_("Lab"), "pages/playground.py", N_("Playground"), ":material/science:"),
    (N_("Lab"), "pages/lab.py", N_("Distillation lab"), ":material/model_training:"),
]

setup_display()  # language, presentation mode and theme of this viewer, before any text
sections: dict[str, list] = {}
for section, path, title, icon in PAGES:  # titles and sections in the viewer's language
    page = st.Page(path, title=_(title), icon=icon, default=path == "pages/home.py",
                   url_path=Path(path).stem)
    sections.setdefault(_(section), []).append(page)

st.navigation(sections, position="sidebar", expanded=True).run()
