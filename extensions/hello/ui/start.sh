#!/bin/sh
# Luna runs this with the UI's port as $1, in this folder.
exec python3 server.py "$1"
