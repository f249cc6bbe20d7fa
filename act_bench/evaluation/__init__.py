"""Evaluating a policy: `act-bench eval` (cli.py) and the evaluation `act-bench run` starts.

    setup.py      a trained run's set-up, shared by `run` and `eval` (threads, env workers,
                  which checkpoint, what it was trained on)
    evaluate.py   EvalSpec and evaluate_policy: episodes.csv, eval.json, summary.json, videos
    lockstep.py   many episodes stepped together, one batched policy query per step
    env_slots.py  the envs those episodes run in: in this process or in worker processes
    ensembling.py how a chunk becomes one action per step (temporal ensembling, open loop)
    rollout.py    the ChunkPolicy interface, one batched query, an episode's row
    intervals.py  success rates per stage with Wilson intervals, and their mean over seeds
    film.py       `eval --film`: chosen episodes rolled out again with a video each
"""
