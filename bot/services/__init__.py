"""Use cases: channel-neutral messages in, channel-neutral replies out."""
