"""``python -m infra cost``: what each stack will cost per month, and the same environment on
both clouds side by side.

The stack runs offline (:func:`infra.offline.run_stack`); each priced resource maps to its price
dimensions (:mod:`infra.cost.aws_resources`, :mod:`infra.cost.azure_resources`); prices come from
the AWS Price List Query API (:mod:`infra.cost.aws_prices`) and the Azure Retail Prices API
(:mod:`infra.cost.azure_prices`) at run time, cached on disk with their fetch time or read from a
saved snapshot (:mod:`infra.cost.book`); :mod:`infra.cost.estimate` does the arithmetic and
:mod:`infra.cost.render` the tables. Stratus ships no prices of its own.
"""

from infra.cost.cli import cost

__all__ = ["cost"]
