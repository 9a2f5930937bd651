from membership.adapters.orm import metadata
from tollgate_shared.persistence.migrations import run_env

run_env(metadata)
