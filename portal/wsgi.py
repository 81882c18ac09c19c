"""The WSGI entry point (``portal.wsgi.app``) used by Zappa and WSGI servers.

Importing it also keeps the libraries that see whole requests out of the log
below WARNING, whatever level the host set (``quiet_request_logs``).
"""

from __future__ import annotations

import logging

from portal.app import create_app

#: Loggers that write what a respondent sent when they log below WARNING: Zappa's handler
#: (module ``handler`` in the zip) logs each raw event at DEBUG, ``zappa.wsgi`` each request
#: in Common Log Format at INFO (client address, path with the link token, time, browser),
#: and the AWS SDK each DynamoDB request body (answers, a code's hash) at DEBUG.
REQUEST_LOGGERS = ("handler", "zappa", "botocore", "boto3", "urllib3")


def quiet_request_logs() -> None:
    """Raise every logger in ``REQUEST_LOGGERS`` to WARNING where it would log less severe lines.

    Rule: on Lambda, Zappa sets the root logger to ``log_level`` from
    zappa_settings.json before it imports this module; the shipped WARNING keeps
    requests out of CloudWatch, and this keeps them out when an operator turns it
    to INFO or DEBUG to chase a bug (the portal's own loggers still follow it;
    none of them logs a respondent). Warnings and errors still reach the log.
    """
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


quiet_request_logs()
app = create_app()
