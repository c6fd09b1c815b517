"""Command sets of the engines: the typed commands a Program holds and the RTL's command port receives."""
