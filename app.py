"""kdviz: page configuration, navigation and the fit engine's warm-up only (the lessons live in pages/)."""

import threading

import streamlit as st
import torch

from kdviz.fitting import warm_up

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
                   initial_sidebar_state="expanded",
                   menu_items={"About": "kdviz: divergences used as knowledge-distillation losses for LLMs."})

# (section, file, title, icon); Home is the default page.
PAGES = [
    ("Start", "pages/home.py", "Home", ":material/home:"),
    ("Lessons", "pages/mode_seeking.py", "Mode seeking vs mean seeking", ":material/center_focus_strong:"),
    ("Lessons", "pages/head_tail.py", "Head vs tail (AKL)", ":material/stacked_bar_chart:"),
    ("Lessons", "pages/gradients.py", "Gradients", ":material/trending_down:"),
    ("Lessons", "pages/outliers.py", "Outliers and TVD", ":material/scatter_plot:"),
    ("Lessons", "pages/overlap.py", "Overlap, JSD and Wasserstein", ":material/join_inner:"),
    ("Lessons", "pages/optimal_transport.py", "Optimal transport and Sinkhorn", ":material/local_shipping:"),
    ("Lessons", "pages/llm_logits.py", "From toys to LLM logits", ":material/memory:"),
    ("Papers", "pages/paper_results.py", "Results from the papers", ":material/table_chart:"),
    ("Lab", "pages/playground.py", "Playground", ":material/science:"),
    ("Lab", "pages/lab.py", "Distillation lab", ":material/model_training:"),
]

sections: dict[str, list] = {}
for section, path, title, icon in PAGES:
    page = st.Page(path, title=title, icon=icon, default=path == "pages/home.py")
    sections.setdefault(section, []).append(page)

st.navigation(sections, position="sidebar", expanded=True).run()
