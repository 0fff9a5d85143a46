"""Who may start what: the owner's money (the server key's budget and per-address edits), a
session's edits, and each visitor's share of the local preview."""
