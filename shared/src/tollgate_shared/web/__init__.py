"""HTTP: the service app and its command line, one token verifier, one error format, input
validation, fast routes, OpenAPI, timeouts and rate limits."""
