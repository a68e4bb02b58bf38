"""Custom Rasa components. Loaded by Rasa (in .venv-rasa) with nlu/ on the path; the bot never
imports these."""
