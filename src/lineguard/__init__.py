"""LineGuard: edge-first visual inspection for factories.

Data flows one way across the trust boundary: frames stay on the edge node
(``lineguard.edge``), only the metadata defined in ``lineguard.contracts``
travels to the plant server (``lineguard.server``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
