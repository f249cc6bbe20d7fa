"""The machine a command runs on: the device rule (device.py), the thread rule (threads.py), the
CPU record and free-memory check (machine.py), seeds (seeding.py), package versions
(versions.py), out-of-memory explained (out_of_memory.py), a diverging training stopped loudly
(finite_guard.py)."""
