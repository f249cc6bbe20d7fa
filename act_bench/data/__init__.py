"""Demonstration data: HDF5 episodes (writing, reading, validation) and training datasets."""
