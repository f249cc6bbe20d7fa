"""What act-bench keeps on disk: every file and folder name (layout.py), writes that are whole or
absent (atomic_io.py), one writer per folder (folder_lock.py), signals held off while a record is
written (interrupts.py), and where the shipped data files live (paths.py)."""
