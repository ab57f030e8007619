"""The plant server: one FastAPI app (``create_app``) over one database.

One folder per domain noun: ``storage`` (engine, declarative base, migrations),
``pki`` (plant CA, enrollment tokens), ``nodes`` (node identity, enrollment,
revocation), ``ingest`` (event batches and heartbeats from nodes), ``query`` (thin
dashboard views over rollups), ``tls`` (HTTPS + mTLS serving); ``auth``, ``audit``,
``retention`` and ``backup`` plug into the same app. Import the app from
``lineguard.server.app``; this package itself stays import-light.
"""
