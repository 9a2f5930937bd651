"""Tollgate checkout: the only place that takes money, at the price the server chooses."""
