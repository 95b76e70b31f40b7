"""Sawgrid's client library: the REST client, the in-process ledger client
(both `LedgerClient`s), key files, and each family's builders and readers."""
