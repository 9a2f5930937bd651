from ledger.adapters.orm import metadata
from tollgate_shared.migrations import run_env

run_env(metadata)
