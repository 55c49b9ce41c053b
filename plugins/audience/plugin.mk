# Marks plugins/audience/ as a plugin (see plugins/example/plugin.mk).
