"""The runtime: the pipeline (engine findings to incidents), service tasks, the command line, settings."""
