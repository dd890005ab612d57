"""`monitor demo`: the whole pipeline offline, on recorded copies of the real sites served from
127.0.0.1 (`server.py`), with its own sources, topics and seeds beside them (`run.py`)."""
