"""The example configuration, shipped inside the package as ``monitor.config`` (``monitor config
example`` prints it)."""
