"""How close are samples to the truth? Two-sample distances with their noise floor, and
classifier-based measures for images. Every quality number in the course comes from here."""

# Each family of metrics lives in a submodule and is re-exported here.
