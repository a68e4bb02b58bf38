"""Understanding free text: the Rasa HTTP client, the lexicons (indicators, urgent phrases,
keyword fallback) and the Rasa runtime (its own Python 3.10 venv; the bot never imports rasa)."""
