"""What the families' fuzz tests share: serialized payloads, then mangled."""
from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def mutated(draw, messages) -> bytes:
    """A message drawn from `messages`, serialized, then 1-4 byte flips,
    insertions, deletions or truncations: bytes that are almost a payload."""
    data = bytearray(draw(messages).SerializeToString())
    for op, position, byte in draw(st.lists(st.tuples(st.sampled_from("fidt"), st.integers(0, 10**6),
                                                      st.integers(0, 255)), min_size=1, max_size=4)):
        i = position % (len(data) + 1)
        if op == "i":
            data.insert(i, byte)
        elif data and op == "f":
            data[i % len(data)] ^= byte or 1
        elif data and op == "d":
            del data[i % len(data)]
        elif op == "t":
            del data[i:]
    return bytes(data)
