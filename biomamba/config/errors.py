"""The configuration error type (its own module so that base.py and renames.py both import it)."""


class ConfigError(ValueError):
    """A configuration problem; the message names the key and the fix."""
