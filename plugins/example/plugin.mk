# Marks plugins/example/ as a plugin. The top Makefile looks only for this
# file: it builds every *.c here except test_*.c, with sql/*.sql embedded,
# into build/plugins/example.so, and `make unit` builds each test_*.c with the
# plugin's sources and tests/mock/mock_host.c and runs it. Copy the folder,
# rename it, and this file comes along; it needs no content.
