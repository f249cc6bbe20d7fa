"""A task variant: transfer cube with the cube only in the near half of its range (x in [0, 0.1]).

It reuses the built-in stage rule and scripted expert; what differs is its own TOML.
"""
from pathlib import Path

from act_bench.tasks import TaskSpec, register_task
from act_bench.tasks.transfer_cube import TransferCubeExpert, TransferCubeStages

register_task(TaskSpec(name="transfer_cube_near", env_id="act_bench_example/TransferCubeNear-v0",
                       stage_rule=TransferCubeStages, expert=TransferCubeExpert,
                       config_file=Path(__file__).with_name("transfer_cube_near.toml")))
