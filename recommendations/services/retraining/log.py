"""The one logger of every retraining module, named for the package as the module
was before it became one: an on-call search for ``recommendations.services.retraining``
(``LOG_FORMAT`` in config/settings.py) finds every line a retrain logs, whichever module
logged it, and ``caplog`` filters on that name.
"""

import logging

logger = logging.getLogger("recommendations.services.retraining")
