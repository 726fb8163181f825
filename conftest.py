"""This repository's own pytest configuration (nothing a user of the plugin needs).

Being at the rootdir, it puts the checkout on sys.path so tests can share helpers
(``tests.conftest``) whatever the command that started them.
"""
