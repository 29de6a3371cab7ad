"""``python -m topo``: the command line, as the ``topo`` script runs it."""

from topo.cli import main_exit

main_exit()
