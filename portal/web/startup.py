"""The portal's Flask class: what keeps creating the app cheap on a Lambda cold start.

Zappa creates the app in a Lambda's first request, so everything done while
creating it is paid by a respondent or an admin waiting for a page. Besides
importing only what a page needs (openpyxl, segno and webassets are imported on
demand), ``PortalFlask`` changes three things, none of them visible to a view:

* its config may hold a ``Deferred`` secret key, read from SSM when a request
  first needs it (``portal.web.sessions``);
* its sessions open a request without a cookie without asking for that key;
* its URL rules compile their URL builders when a URL is first built from them
  (``LazyBuilderRule``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from portal.web.sessions import CookieFirstSessions, DeferredConfig

Builder = Callable[..., tuple[str, str]]


class LazyBuilderRule(Rule):
    """A Werkzeug rule that compiles its URL builders on the first ``url_for`` to it.

    Werkzeug compiles two builder functions (generated Python code) for every rule
    when the rule is added: about 140 compilations for the portal's 70 routes, most
    of the time it takes to create the app, while a page builds URLs to a handful
    of routes. Here each builder is a stand-in that compiles the real one
    (``Rule._compile_builder``) on its first call and hands every call to it, so
    URLs are exactly Werkzeug's (``tests/web/test_startup.py`` checks every route).
    Two threads building the first URL of a rule at once may both compile it; the
    builders are equal, so either serves.
    """

    def _compile_builder(self, append_unknown: bool = True) -> Builder:
        compiled: Builder | None = None

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            nonlocal compiled
            if compiled is None:
                compiled = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            return compiled(**values)

        return build


class PortalFlask(Flask):
    """Flask with a deferred secret key, cookie-first sessions and lazily compiled URL rules."""

    config_class = DeferredConfig
    session_interface = CookieFirstSessions()
    url_rule_class = LazyBuilderRule
