"""The benchmark grid: `act-bench run` (run.py) over a pure plan (plan.py), executed inline, in a
process pool or on Ray (executors.py), collected into results and a report (collect.py);
`act-bench sweep` (sweep.py, sweep_params.py); `act-bench remote` (remote.py, run_pack.py); the
CI regression job (`python -m act_bench.grid.regression`)."""
