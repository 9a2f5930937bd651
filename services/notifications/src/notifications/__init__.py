"""Tollgate notifications: receipts and payment alerts by email, exactly once per fact."""
