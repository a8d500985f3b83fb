#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opaa.settings.dev")
    import atexit

    from django.core.management import execute_from_command_line

    from opaa.embedded import redis_stop_started_here

    # The settings start the embedded Redis when REDIS_URL is unset; stop it at exit.
    atexit.register(redis_stop_started_here)

    execute_from_command_line(sys.argv)
