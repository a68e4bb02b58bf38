"""Victim-screening and referral chatbot."""
