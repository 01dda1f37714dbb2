"""kdviz: navigation only (the lessons live in pages/)."""

import streamlit as st

st.set_page_config(page_title="kdviz", page_icon="📉", layout="wide")
st.title("kdviz")
st.write("The lessons are being built; see the README for the library and the CLI.")
