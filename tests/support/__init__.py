"""What tests and benchmarks share: the scripted model server, an SSE client, `python main.py`
as a subprocess, and a server that records who fetched an image."""
