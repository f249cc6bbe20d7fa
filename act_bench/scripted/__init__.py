"""Scripted demonstrations: each task's expert (expert.py, planned in end-effector space along
trajectory.py's paths), rolled out and recorded (recorder.py) by `act-bench generate-demos`
(generate.py)."""
