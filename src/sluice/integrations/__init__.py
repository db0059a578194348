"""Variables, Connections and the hooks that use them (imports core, sdk and store)."""
