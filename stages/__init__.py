"""Warehouse glue for the pure libraries (featuredb, llm): read a shard, run, write its parts."""
