"""Data pipelines, callbacks, run configuration and the `zoo` command line."""
