"""The protocol core: request building, streaming, errors, catalog and rate limits.

Nothing in this package imports ``llm``; the plugin and the server are thin layers over it.
"""
