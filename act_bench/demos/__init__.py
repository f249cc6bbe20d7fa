"""Demonstrations made and shown: `act-bench generate-demos` (generate.py) rolls each task's
scripted expert out in the environment and records it (recorder.py), `act-bench replay`
(replay.py) renders a recorded episode, fidelity.py measures the experts against the
original release's, and fingerprint.py hashes what defines a task so a frozen one stays frozen."""
