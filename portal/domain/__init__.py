"""The pure domain: questionnaires, entities and the rules on them.

Nothing in this package may import a web framework, a database driver or an
AWS SDK; ``tests/unit/test_architecture.py`` enforces that.
"""
