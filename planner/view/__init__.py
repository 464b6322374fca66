"""The planning window (``planner view``): widgets call the same functions as the CLI."""
