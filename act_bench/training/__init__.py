"""`act-bench train` (train.py): one optimisation step (step.py), a run folder's state, resume and
records (state.py), bf16 weight copies (bf16_weights.py), TensorBoard scalars (tensorboard_log.py)."""
