"""The floor of the classroom benchmark: one slider, one small plotly chart, nothing else.

Every rerun of this page costs what Streamlit itself costs on this machine (script run, one
widget, one 200-point figure serialised to the browser); a lesson page is judged against it.
Run it alone with ``streamlit run benchmarks/minimal_page.py``.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.title("Minimal page")
st.markdown("One slider and one small chart: the cost of a Streamlit rerun with no kdviz work.")
freq = st.slider("Frequency", min_value=1, max_value=12, value=3, key="min_freq", bind="query-params")

x = np.linspace(0.0, 1.0, 200)
fig = go.Figure(go.Scatter(x=x, y=np.sin(2 * np.pi * freq * x), mode="lines", name="sin"))
# No explicit template: `update_layout(template=...)` deep-copies the template (20-30 ms of CPU per
# figure here), which is a plotly cost a floor should not include.
fig.update_layout(height=300, margin=dict(l=40, r=10, t=30, b=40), xaxis_title="x",
                  yaxis_title=f"sin(2π·{freq}·x)")
st.plotly_chart(fig, key="min_chart")
