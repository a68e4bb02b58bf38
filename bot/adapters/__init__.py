"""Adapters: the imperative shell that talks to databases, channels and other services."""
