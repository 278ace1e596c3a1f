"""Use cases shared by the web pages, the API, the CLI and the workers."""
