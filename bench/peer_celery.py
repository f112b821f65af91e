"""The Celery 5 side of bench/peers.py: one app on the bench's Redis database as its broker, one task.

No result backend (the job's record is the Redis list of bench/peer_record.py, as for every system), and
Celery's defaults otherwise (JSON serializer, acknowledgement before the task runs, prefetch multiplier
4, mingle and gossip on). Imports nothing from Django. Workers run
``celery -A bench.peer_celery worker --pool=solo|prefork -c N``.
"""

import os

from celery import Celery

from bench.peer_record import work

app = Celery("peers", broker=os.environ["PEERS_REDIS_URL"])
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=True)


@app.task(name="peers.work")
def celery_work(n, sleep_ms=0):
    work(n, sleep_ms)
