"""The Stratus Pulumi program: read the stack config, compose the stack's pieces.

Kept thin on purpose; everything lives in the ``infra`` package (``platform/infra``).
"""

from infra.program import main

main()
