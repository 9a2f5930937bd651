"""`python -m notifications serve|migrate`."""

from notifications.main import main

main()
