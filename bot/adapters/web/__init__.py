"""HTTP services for partners and staff."""
