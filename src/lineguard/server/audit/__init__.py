"""Tamper-evident audit log: one ``record`` choke point, a hash chain, signed checkpoints, verification."""
