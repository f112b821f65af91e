"""The Dramatiq side of bench/peers.py: a Redis broker on the bench's Redis database, one actor.

Dramatiq's defaults otherwise (its default middleware, acknowledgement after the actor returns, no
result store: the job's record is the Redis list of bench/peer_record.py, as for every system). Imports
nothing from Django. Workers run ``dramatiq bench.peer_dramatiq -p N -t M``.
"""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peer_record import work

broker = RedisBroker(url=os.environ["PEERS_REDIS_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="peers_work", queue_name="peers")
def dramatiq_work(n, sleep_ms=0):
    work(n, sleep_ms)
