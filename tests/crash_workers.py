"""Worker classes that die at the unlucky instants a crash test needs (``--worker-class``)."""

import os
import signal

from jobs.worker import Worker


class DiesAfterTakingAJob(Worker):
    """SIGKILLed right after RQ moved a job to its intermediate list, before anything marked it started:
    a host crash between ``BLMOVE`` and the work horse."""

    def execute_job(self, job, queue):
        os.kill(os.getpid(), signal.SIGKILL)


class HorseDiesBeforeTheClaim(Worker):
    """The work horse dies before the runner claims the record: RQ files the job as failed (it keeps it
    a day) while the ledger still says queued with no attempt."""

    def perform_job(self, job, queue):
        if self._is_horse:
            os._exit(1)
        return super().perform_job(job, queue)
