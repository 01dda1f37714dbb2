"""One pure function per lesson: plain values in, a dataclass of numpy arrays out.

Pages call these through ``st.cache_data`` with plain arguments only (no tensors).
"""
