"""Offscreen pictures of the plan: screenshots, stills, animations and the glTF scene."""
