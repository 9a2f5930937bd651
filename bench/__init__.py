"""`make bench`: throughput and latency of Tollgate's hot paths beside the machine's ceilings."""
