"""The scheduler: when jobs run (``config``), that one run of a job at a time (``locks``), and the
APScheduler service that runs the nightly sync and the drift check on their cron (``service``).

Nothing is imported here: ``sugar_bridge.config`` and the pipeline use the light modules
(``config``, ``locks``) without pulling APScheduler in.
"""
