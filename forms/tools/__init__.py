"""Tools around the documents and the contract, for people and tests: never imported by the running service."""
