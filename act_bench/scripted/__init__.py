"""Scripted experts: each task's expert (expert.py, planned in end-effector space along
trajectory.py's paths), and the human-like variations of its plans (human.py, plan_edit.py,
style.py). demos/ rolls them out and records them."""
