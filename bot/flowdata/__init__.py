"""Load and validate flows/: every error names its file, its line and the rule broken."""
