from bot.downloads.serverlimit import ServerLimit


def test_never_below_what_worked_and_probes_upward_later():
    limit = ServerLimit(8, probe_up_after=10)
    limit.answered(1)
    limit.answered(2)
    assert limit.refused(0.0, concurrent=4) == 3
    assert limit.refused(0.1, concurrent=3) == 2  # its retry: down to what worked, no further
    assert limit.refused(0.2, concurrent=2) == 2
    assert limit.current(5.0) == 2
    assert limit.current(10.3) == 3  # a quiet while: try one more
    assert limit.refused(10.5, concurrent=3) == 2


def test_first_refusal_without_any_answer_keeps_one():
    limit = ServerLimit(4)
    assert limit.refused(0.0, concurrent=1) == 1
