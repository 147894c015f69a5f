from bot.downloads.ledger import Ledger


def test_running_downloads_count_what_arrived_or_their_size_whichever_is_more():
    ledger = Ledger()
    ledger.start(1, user_id=7, announced=1000)
    ledger.start(2, user_id=7, announced=None)
    ledger.start(3, user_id=8, announced=None)
    ledger.received(1, 400)
    ledger.received(2, 5000)
    ledger.received(3, 9000)
    assert ledger.counted_for(7) == 1000 + 5000
    ledger.received(1, 3000)  # more than announced: the real figure counts
    assert ledger.counted_for(7) == 3000 + 5000
    assert ledger.still_to_come() == 0
    ledger.end(2)
    assert ledger.counted_for(7) == 3000 and ledger.running_ids() == {1, 3}
