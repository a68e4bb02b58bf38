"""Directory tooling for staff: validate, export (HSDS JSON, CSV data package), import, staleness.

`python -m bot directory ...` calls bot.directory_tools.cli; the conversions themselves do no I/O.
"""
