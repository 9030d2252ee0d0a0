#!/usr/bin/env python3
"""The broker's ceiling for ../shared/bench/compare's three phases: an "ideal client".

It does the least work per message any client could do, so its rates are what the broker
allows on this machine, whatever the client:
  publish            one message's frames are encoded once; a buffer of many copies is written
                     with sendall, over and over; clocked until the broker counts N in the queue.
  consume            the first delivery is parsed to learn its size in bytes; after that the
                     stream is only counted (every delivery of one run has the same size), and a
                     pre-encoded basic.ack (multiple) goes out every 100 deliveries.
  confirmed-publish  as publish, at most WINDOW unconfirmed: the acks are parsed, the batch
                     that fits the window is written at once.

It takes the project's command-line protocol, so compare can run it in the project's slot:
  python3 ../shared/bench/compare --project 'python3 scripts/bench-ceiling.py' ...
and prints 'ceiling <phase> <rate> msg/s'. AMQP_URL names the broker (guest/guest, vhost /).
"""
import argparse
import os
import socket
import struct
import sys
import time
import urllib.parse

FRAME_END = b"\xce"


def shortstr(s):
    b = s.encode()
    return struct.pack("!B", len(b)) + b


def longstr(b):
    return struct.pack("!I", len(b)) + b


def frame(kind, channel, payload):
    return struct.pack("!BHI", kind, channel, len(payload)) + payload + FRAME_END


def method(channel, class_id, method_id, args=b""):
    return frame(1, channel, struct.pack("!HH", class_id, method_id) + args)


class Connection:
    """A minimal AMQP 0-9-1 connection: the handshake, one channel, synchronous methods."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 5672))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        user = urllib.parse.unquote(u.username or "guest")
        password = urllib.parse.unquote(u.password or "guest")
        vhost = urllib.parse.unquote(u.path[1:]) if len(u.path) > 1 else "/"
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(0, 10, 10)  # connection.start
        self.send(method(0, 10, 11, struct.pack("!I", 0) + shortstr("PLAIN")
                         + longstr(b"\0" + user.encode() + b"\0" + password.encode()) + shortstr("en_US")))
        args = self.expect(0, 10, 30)  # connection.tune
        channel_max, frame_max, _ = struct.unpack("!HIH", args[:8])
        self.frame_max = frame_max or 131072
        self.send(method(0, 10, 31, struct.pack("!HIH", channel_max, self.frame_max, 0)))
        self.call(0, 10, 40, shortstr(vhost) + shortstr("") + b"\0", 41)  # connection.open
        self.call(1, 20, 10, shortstr(""), 11)  # channel.open

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self):
        while True:
            if len(self.buf) >= 7:
                kind, channel, size = struct.unpack_from("!BHI", self.buf)
                if len(self.buf) >= size + 8:
                    payload = bytes(self.buf[7:7 + size])
                    if self.buf[7 + size] != 0xCE:
                        raise RuntimeError("bad frame end")
                    del self.buf[:size + 8]
                    return kind, channel, payload, size + 8
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("the broker closed the connection")
            self.buf += chunk

    def expect(self, channel, class_id, method_id):
        """The next method frame, which must be class_id.method_id; returns its arguments."""
        while True:
            kind, ch, payload, _ = self.read_frame()
            if kind == 8:  # heartbeat
                continue
            if kind != 1:
                raise RuntimeError(f"expected a method frame, got type {kind}")
            c, m = struct.unpack_from("!HH", payload)
            if (c, m) in ((10, 50), (20, 40)):
                code, = struct.unpack_from("!H", payload, 4)
                text = payload[7:7 + payload[6]].decode(errors="replace")
                raise RuntimeError(f"the broker closed the {'connection' if c == 10 else 'channel'}: {code} {text}")
            if (ch, c, m) != (channel, class_id, method_id):
                raise RuntimeError(f"expected {class_id}.{method_id} on {channel}, got {c}.{m} on {ch}")
            return payload[4:]

    def call(self, channel, class_id, method_id, args, reply_id):
        self.send(method(channel, class_id, method_id, args))
        return self.expect(channel, class_id, reply_id)

    def declare(self, queue, passive=False):
        args = self.call(1, 50, 10, struct.pack("!H", 0) + shortstr(queue) + bytes([1 if passive else 0])
                         + struct.pack("!I", 0), 11)
        n = args[0]
        return struct.unpack_from("!I", args, 1 + n)[0]  # message count

    def purge(self, queue):
        self.call(1, 50, 30, struct.pack("!H", 0) + shortstr(queue) + b"\0", 31)

    def close(self):
        self.call(0, 10, 50, struct.pack("!H", 200) + shortstr("bye") + struct.pack("!HH", 0, 0), 51)
        self.sock.close()


def encoded_message(queue, size, frame_max, channel=1):
    """basic.publish, its content header and its body frames, as bytes."""
    out = method(channel, 60, 40, struct.pack("!H", 0) + shortstr("") + shortstr(queue) + b"\0")
    out += frame(2, channel, struct.pack("!HHQH", 60, 0, size, 0))
    body = bytes(size)
    chunk = frame_max - 8
    for start in range(0, size, chunk):
        out += frame(3, channel, body[start:start + chunk])
    return out


def batch_of(message, target=1 << 20):
    """Enough copies of one message to make about `target` bytes (at least one)."""
    copies = max(1, target // len(message))
    return copies, message * copies


def cpu():
    r = os.times()
    return r.user + r.system


def report(phase, n, seconds, cpu_seconds):
    print(f"ceiling {phase} {n / seconds:.0f} msg/s", flush=True)
    print(f"ceiling {phase}: {cpu_seconds / n * 1e6:.2f} us CPU/msg (client process)", file=sys.stderr)


def publish_phase(conn, queue, n, size):
    message = encoded_message(queue, size, conn.frame_max)
    copies, batch = batch_of(message)
    c0, t0 = cpu(), time.monotonic()
    sent = 0
    while sent < n:
        k = min(copies, n - sent)
        conn.send(batch if k == copies else batch[:k * len(message)])
        sent += k
    while conn.declare(queue, passive=True) < n:
        time.sleep(0.002)
    report("publish", n, time.monotonic() - t0, cpu() - c0)


def consume_phase(conn, queue, n, prefetch, ack_every):
    conn.call(1, 60, 10, struct.pack("!IHB", 0, prefetch, 0), 11)  # basic.qos
    c0, t0 = cpu(), time.monotonic()
    conn.send(method(1, 60, 20, struct.pack("!H", 0) + shortstr(queue) + shortstr("ceiling") + b"\0"
                     + struct.pack("!I", 0)))
    conn.expect(1, 60, 21)  # consume-ok
    # The first delivery, parsed: its frames give the size every delivery of this run has.
    delivery_bytes = 0
    kind, _, payload, length = conn.read_frame()
    if kind != 1 or struct.unpack_from("!HH", payload) != (60, 60):
        raise RuntimeError("expected basic.deliver")
    delivery_bytes += length
    kind, _, payload, length = conn.read_frame()
    body_size, = struct.unpack_from("!Q", payload, 4)
    delivery_bytes += length
    got_body = 0
    while got_body < body_size:
        kind, _, payload, length = conn.read_frame()
        got_body += len(payload)
        delivery_bytes += length
    received = 1
    pending = len(conn.buf)
    conn.buf = bytearray()
    ack = struct.Struct("!BHIHHQB")
    view = memoryview(bytearray(1 << 20))
    acked = 0
    while True:
        # Whole deliveries so far; ack every `ack_every`, and the last.
        received_now = received + pending // delivery_bytes
        target = min(n, received_now) // ack_every * ack_every
        if received_now >= n:
            target = n
        if target > acked:
            conn.send(ack.pack(1, 1, 13, 60, 80, target, 1) + FRAME_END)
            acked = target
        if acked >= n:
            break
        got = conn.sock.recv_into(view)
        if got == 0:
            raise RuntimeError("the broker closed the connection")
        pending += got
    report("consume", n, time.monotonic() - t0, cpu() - c0)
    conn.call(1, 60, 30, shortstr("ceiling") + b"\0", 31)  # basic.cancel


def confirmed_publish_phase(conn, queue, n, size, window):
    conn.call(1, 85, 10, b"\0", 11)  # confirm.select
    conn.purge(queue)
    message = encoded_message(queue, size, conn.frame_max)
    copies, batch = batch_of(message)
    batch = memoryview(batch)
    c0, t0 = cpu(), time.monotonic()
    sent = confirmed = 0
    while confirmed < n:
        room = min(window - (sent - confirmed), n - sent, copies)
        if room > 0:
            conn.send(batch[:room * len(message)])
            sent += room
            continue
        kind, _, payload, _ = conn.read_frame()
        if kind != 1:
            continue
        c, m = struct.unpack_from("!HH", payload)
        if (c, m) == (60, 120):
            raise RuntimeError("the broker nacked a publish")
        if (c, m) != (60, 80):
            raise RuntimeError(f"unexpected method {c}.{m}")
        tag, multiple = struct.unpack_from("!QB", payload, 4)
        confirmed = tag if multiple & 1 else confirmed + 1
    report("confirmed-publish", n, time.monotonic() - t0, cpu() - c0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--confirm-window", type=int, default=1000)
    ap.add_argument("--prefetch", type=int, default=1000)
    ap.add_argument("--multi-ack-every", type=int, default=100)
    ap.add_argument("--queue", default="bench_ceiling")
    a = ap.parse_args()
    if a.messages < 1 or a.size < 0 or a.confirm_window < 1 or not 1 <= a.prefetch <= 65535 or a.multi_ack_every < 1:
        ap.error("--messages, --confirm-window, --prefetch (at most 65535) and --multi-ack-every must be positive")
    if not 0 < len(a.queue.encode()) < 256:
        ap.error("--queue must be 1 to 255 bytes")
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
    conn = Connection(url)
    queue = a.queue
    conn.declare(queue)
    conn.purge(queue)
    publish_phase(conn, queue, a.messages, a.size)
    consume_phase(conn, queue, a.messages, a.prefetch, a.multi_ack_every)
    confirmed_publish_phase(conn, queue, a.messages, a.size, a.confirm_window)
    conn.call(1, 50, 40, struct.pack("!H", 0) + shortstr(queue) + b"\0", 41)  # queue.delete
    conn.close()


if __name__ == "__main__":
    main()
