"""act-bench and other robot-learning tools: LeRobot datasets in and out (lerobot_export,
lerobot_import, sharing lerobot_format), and the video codec they use (video_codec).

Nothing here imports lerobot itself: the format is written and read with pyarrow and the ffmpeg
that imageio-ffmpeg ships, so `pip install "act-bench[lerobot]"` is all it takes.
"""
