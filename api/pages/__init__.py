"""The French pages: server-rendered, one form per act, each posting to a command shared
with the JSON API."""
