"""The supporter toolkit: a static site for the people who join a storm."""
