#!/bin/sh
# A background worker: no port, so Luna watches only that it stays alive.
exec python3 worker.py
