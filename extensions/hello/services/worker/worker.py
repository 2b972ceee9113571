"""A background worker with nothing to serve: it writes a heartbeat to its log."""

import signal
import sys
import time

running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
print("hello worker started", flush=True)
beats = 0
while running:
    beats += 1
    print(f"heartbeat {beats}", flush=True)
    for _ in range(30):
        if not running:
            break
        time.sleep(1)
print("hello worker stopping", flush=True)
sys.exit(0)
