"""Where the real scans live: ``../shared/data`` beside the project (absent on a user's clone)."""

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
