"""Change-readiness self-assessment portal.

The Flask app lives in ``portal.app`` (``create_app``); importing this package
alone stays framework-free so that Lambdas and the CLI load fast.
"""
