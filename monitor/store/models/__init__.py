"""The schema, end to end: sources → items (+ versions, payloads) → hits → stories → alerts.

One module per concern (``people``, ``content``, ``watch``, ``alerting``, ``cluster``) over one
declarative base (``base``); everything is re-exported here, so ``from monitor.store.models import
ItemRow`` works. Uniqueness that the pipeline relies on (one item per source and external id, one
hit per item and term, one alert per desk and story, one delivery per alert and target) is a
database constraint, never a set in memory. ORM classes end in ``Row`` so they never share a name
with the stage values of :mod:`monitor.types`; they are used only inside :mod:`monitor.store`.
"""

from monitor.store.models.base import NAMING, Base  # noqa: F401
from monitor.store.models.people import *  # noqa: F403
from monitor.store.models.content import *  # noqa: F403
from monitor.store.models.watch import *  # noqa: F403
from monitor.store.models.alerting import *  # noqa: F403
from monitor.store.models.cluster import *  # noqa: F403
from monitor.store.models.telegram import *  # noqa: F403

__all__ = [name for name in dir() if name[:1].isupper()]
