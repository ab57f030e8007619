"""Retention: per-category deletion (crypto-shredding where encrypted), legal holds, sweep records."""
