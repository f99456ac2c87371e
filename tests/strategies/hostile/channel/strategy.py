"""Writes forged bytes straight into its own socket to the host, one kind per `mode`.

The worker's reply code is bypassed entirely: this is what the host must survive.
"""

import json
import os
import random
import stat
import struct


def channel_fd():
    for fd in range(64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return fd
        except OSError:
            continue
    raise RuntimeError("no socket found")


def frame(payload):
    return struct.pack("!I", len(payload)) + payload


def nested(depth):
    return "[" * depth + "]" * depth


class Strategy:
    def __init__(self, mode, seed=0):
        self.mode, self.rng, self.calls = mode, random.Random(int(seed)), 0

    def payload(self):
        seq = self.calls
        rng = self.rng
        return {
            "raw_random": lambda: rng.randbytes(rng.randint(1, 5000)),
            "framed_random": lambda: frame(rng.randbytes(rng.randint(1, 5000))),
            "huge_header": lambda: struct.pack("!I", 2**32 - 1) + b"x" * 100,
            "open_brackets": lambda: frame(b"[" * 200_000),
            "deep_valid": lambda: frame(
                json.dumps({"seq": seq, "output": json.loads(nested(900))}).encode()
            ),
            "deep_unparsable": lambda: frame(
                f'{{"seq":{seq},"output":{nested(100_000)}}}'.encode()
            ),
            "not_object": lambda: frame(b"[1, 2, 3]"),
            "wrong_seq": lambda: frame(b'{"seq": 999999, "output": []}'),
            "many_signals": lambda: frame(
                json.dumps({"seq": seq, "output": [{"symbol": "AAA"}] * 50_000}).encode()
            ),
            "long_error": lambda: frame(json.dumps({"seq": seq, "error": "e" * 900_000}).encode()),
            "bad_utf8": lambda: frame(b'{"seq": %d, "error": "\xff\xfe"}' % seq),
            "half_frame": lambda: struct.pack("!I", 100) + b"0123456789",
            "huge_number": lambda: frame(b'{"seq": %d, "output": %s}' % (seq, b"9" * 100_000)),
            "nan_output": lambda: frame(
                b'{"seq": %d, "output": {"symbol": "AAA", "quantity": NaN}}' % seq
            ),
        }[self.mode]()

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        os.write(channel_fd(), self.payload())
        return None
