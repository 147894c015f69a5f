"""The queue and running set: limits per user and overall, order, and thread safety."""

from __future__ import annotations

import threading

from bot.downloads.registry import Registry, WaitReason


def test_global_and_per_user_limits_keep_order() -> None:
    reg = Registry(max_active=3, max_per_user=2)
    for job_id, user in [(1, 10), (2, 10), (3, 10), (4, 20), (5, 30)]:
        reg.enqueue(job_id, user)
    started = [r.job_id for r in reg.take_startable()]
    # user 10 gets two slots; job 3 waits for user 10; job 4 takes the third slot.
    assert started == [1, 2, 4]
    assert reg.position(3) == 1 and reg.position(5) == 2
    reg.finish(1)
    assert [r.job_id for r in reg.take_startable()] == [3]
    assert reg.counts() == (3, 1)


def test_front_of_queue_and_dequeue() -> None:
    reg = Registry(max_active=1, max_per_user=1)
    reg.enqueue(1, 10)
    reg.enqueue(2, 10, front=True)
    reg.enqueue(2, 10)  # no duplicates
    assert reg.positions() == {2: 1, 1: 2}
    assert reg.dequeue(2) and not reg.dequeue(2)
    assert reg.positions() == {1: 1}


def test_concurrent_take_never_exceeds_limits() -> None:
    reg = Registry(max_active=4, max_per_user=2)
    for job_id in range(200):
        reg.enqueue(job_id, job_id % 5)
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            for running in reg.take_startable():
                with lock:
                    taken.append(running.job_id)
                    assert reg.counts()[0] <= 4
                reg.finish(running.job_id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(taken) == len(set(taken))  # nobody started a job twice
    assert reg.counts()[0] == 0


def test_a_job_still_being_probed_keeps_its_place_for_its_user() -> None:
    reg = Registry(max_active=3, max_per_user=2)
    reg.enqueue(1, 10)
    reg.enqueue(2, 10, ready=False)  # probing
    reg.enqueue(3, 10)  # probed quickly, but asked later
    reg.enqueue(4, 20)
    assert [r.job_id for r in reg.take_startable()] == [1, 4]  # 3 waits behind 2; others go on
    reg.mark_ready(2)
    assert [r.job_id for r in reg.take_startable()] == [2]
    assert reg.position(3) == 1


def test_why_a_queued_job_waits_when_it_is_not_for_a_slot() -> None:
    reg = Registry(max_active=3, max_per_user=1)
    reg.enqueue(1, 10)
    reg.enqueue(2, 10)
    reg.enqueue(3, 20, ready=False)
    assert [r.job_id for r in reg.take_startable()] == [1]
    assert reg.wait_reason(10) is WaitReason.OWN_RUNNING  # 2 waits for the same person's 1
    assert reg.wait_reason(20) is WaitReason.EARLIER_PROBE  # slots are free: 3 is still checked
    reg.enqueue(4, 30)
    reg.enqueue(5, 40)
    reg.mark_ready(3)
    assert [r.job_id for r in reg.take_startable()] == [3, 4]
    assert reg.wait_reason(40) is None  # every slot is taken: it simply waits its turn
