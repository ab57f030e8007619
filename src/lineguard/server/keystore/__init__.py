"""The server's data-key store: wrapped DEKs in the main database (:class:`SqlDataKeyStore`)."""
