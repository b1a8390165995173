"""What tests and benchmarks share: the scripted model server, an SSE client, and `python main.py`
as a subprocess."""
