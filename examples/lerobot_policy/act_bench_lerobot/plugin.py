"""The entry point act-bench imports: registers the factory under the name `lerobot`, so an
installed copy is evaluated with `act-bench eval --policy lerobot --policy-arg checkpoint=...`.
lerobot itself is imported only when the factory runs."""
from act_bench.policies.registry import register_agent

from act_bench_lerobot import load

register_agent("lerobot", load)
