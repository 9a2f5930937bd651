"""Tollgate ledger: what every group earned, refunded, lost to disputes and was paid out."""
