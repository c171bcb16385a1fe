"""storecore.lru.ByteLRU: the byte bound holds when values grow in place or are replaced."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from storecore.lru import ByteLRU


class Growing:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def test_a_value_that_grew_is_counted_at_its_new_size_when_put_again():
    lru = ByteLRU(100)
    v = Growing(10)
    lru.put("a", v)
    v.nbytes = 60  # grew in place (a chunk decoded further)
    assert lru.nbytes == 10
    lru.put("a", v)
    assert lru.nbytes == 60
    lru.put("b", Growing(50))  # over the bound: the least recently used goes
    assert lru.peek("a") is None and lru.nbytes == 50


def test_a_value_too_big_to_keep_replaces_nothing_stale():
    lru = ByteLRU(100, max_item_bytes=40)
    lru.put("a", Growing(30))
    lru.put("a", Growing(50))  # the new value is not kept, and the old one is not served in its place
    assert lru.peek("a") is None and lru.nbytes == 0


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 70), st.booleans()), max_size=60))
def test_the_count_matches_what_is_held(ops):
    lru = ByteLRU(100, max_item_bytes=80)
    values: dict[str, Growing] = {}
    for key, size, grow in ops:
        if grow and key in values:
            values[key].nbytes = size
            lru.put(key, values[key])
        else:
            values[key] = Growing(size)
            lru.put(key, values[key])
        held = [k for k in "abcdef" if lru.peek(k) is not None]
        assert lru.nbytes == sum(lru.peek(k).nbytes for k in held) <= 100
