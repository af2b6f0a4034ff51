"""Process-wide plumbing shared by every Relais process: settings, logging, Temporal
client and data converter, command line."""
