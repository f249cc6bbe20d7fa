"""An act-bench plugin in two parts, each in its own module (see README, "Adding a task or a method").

act-bench imports this module through the `act_bench.plugins` entry point; importing the two
modules below registers their task and policy.
"""
from act_bench_example import near_cube, state_bc  # noqa: F401  (registration happens at import)
