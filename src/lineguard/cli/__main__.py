"""``python -m lineguard.cli`` runs the same CLI as the ``lineguard`` script."""

from lineguard.cli.main import main

main()
