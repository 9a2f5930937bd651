"""Tollgate's shared library: contracts and plumbing every service builds on."""
