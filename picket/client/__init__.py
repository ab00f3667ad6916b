"""The `picket` command-line client of the REST API, and monitors as code (`picket apply`)."""
