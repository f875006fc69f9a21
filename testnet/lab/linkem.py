#!/usr/bin/env python3
"""Link emulator: latency, jitter and loss between pairs of TAP devices, for kernels without netem.

Runs inside the lab's "internet" namespace. Each link is two TAP devices that this process holds;
the lab moves one into a host's namespace (its eth0 or its router's wan0) and bridges the other.
Every Ethernet frame read from one end is written to the other after `delayMs` +- `jitterMs`
(uniform, order kept per direction, as a real link does), or dropped with probability `lossPct`%.
ARP is never dropped, so a lossy link still resolves its neighbours as a real one eventually does.

Commands, one JSON object per line on stdin, each answered with {"id": …, "ok": true|false, …}:
  {"id": 1, "op": "add", "link": "n3", "inner": "t3a", "outer": "t3b", "delayMs": 20, "jitterMs": 5, "lossPct": 0.5}
  {"id": 2, "op": "set", "link": "n3", "lossPct": 5}          (any of delayMs, jitterMs, lossPct, cut)
  {"id": 3, "op": "stats"}
End of stdin ends the process (the TAP devices vanish with it).
"""
import fcntl
import heapq
import json
import os
import random
import selectors
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_FRAME_BYTES = 65536
# Frames waiting in one direction of one link; beyond this the link drops, like a full router queue.
MAX_QUEUED_FRAMES_PER_DIRECTION = 4096
# Frames read from one device per wake-up, so one busy link cannot starve the others.
MAX_READS_PER_WAKE = 64
ETHERTYPE_ARP = 0x0806


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


class Direction:
    def __init__(self, source, target):
        self.source = source
        self.target = target
        self.last_due = 0.0
        self.queued = 0
        self.forwarded = 0
        self.dropped = 0


class Link:
    def __init__(self, name, inner, outer, shape):
        self.name = name
        self.delay = 0.0
        self.jitter = 0.0
        self.loss = 0.0
        self.cut = False
        self.apply(shape)
        self.inner_fd = open_tap(inner)
        self.outer_fd = open_tap(outer)
        self.up = Direction(self.inner_fd, self.outer_fd)
        self.down = Direction(self.outer_fd, self.inner_fd)

    def apply(self, shape):
        if "delayMs" in shape:
            self.delay = max(0.0, float(shape["delayMs"])) / 1000
        if "jitterMs" in shape:
            self.jitter = max(0.0, float(shape["jitterMs"])) / 1000
        if "lossPct" in shape:
            self.loss = min(100.0, max(0.0, float(shape["lossPct"]))) / 100
        if "cut" in shape:
            self.cut = bool(shape["cut"])


class Emulator:
    def __init__(self):
        self.links = {}
        self.by_fd = {}
        self.heap = []
        self.seq = 0
        self.selector = selectors.DefaultSelector()
        self.stdin_buffer = b""
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ, None)

    def reply(self, message):
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def command(self, line):
        request = json.loads(line)
        rid = request.get("id")
        try:
            op = request["op"]
            if op == "add":
                if request["link"] in self.links:
                    raise ValueError("link exists: " + request["link"])
                link = Link(request["link"], request["inner"], request["outer"], request)
                self.links[link.name] = link
                for direction in (link.up, link.down):
                    self.by_fd[direction.source] = (link, direction)
                    self.selector.register(direction.source, selectors.EVENT_READ, None)
                self.reply({"id": rid, "ok": True})
            elif op == "set":
                self.links[request["link"]].apply(request)
                self.reply({"id": rid, "ok": True})
            elif op == "stats":
                stats = {
                    name: {"up": [l.up.forwarded, l.up.dropped], "down": [l.down.forwarded, l.down.dropped]}
                    for name, l in self.links.items()
                }
                self.reply({"id": rid, "ok": True, "result": stats})
            else:
                raise ValueError("unknown op " + str(op))
        except Exception as error:  # the answer carries the failure; the emulator keeps running
            self.reply({"id": rid, "ok": False, "error": str(error)})

    def read_stdin(self):
        chunk = os.read(0, 65536)
        if chunk == b"":
            return False
        self.stdin_buffer += chunk
        while b"\n" in self.stdin_buffer:
            line, self.stdin_buffer = self.stdin_buffer.split(b"\n", 1)
            if line.strip():
                self.command(line)
        return True

    def read_frames(self, fd, now):
        link, direction = self.by_fd[fd]
        for _ in range(MAX_READS_PER_WAKE):
            try:
                frame = os.read(fd, MAX_FRAME_BYTES)
            except BlockingIOError:
                return
            is_arp = len(frame) >= 14 and (frame[12] << 8 | frame[13]) == ETHERTYPE_ARP
            if not is_arp and (link.cut or (link.loss > 0 and random.random() < link.loss)):
                direction.dropped += 1
                continue
            if direction.queued >= MAX_QUEUED_FRAMES_PER_DIRECTION:
                direction.dropped += 1
                continue
            delay = link.delay + (random.uniform(-link.jitter, link.jitter) if link.jitter > 0 else 0.0)
            due = max(now + max(0.0, delay), direction.last_due)
            direction.last_due = due
            direction.queued += 1
            self.seq += 1
            heapq.heappush(self.heap, (due, self.seq, direction, frame))

    def flush_due(self, now):
        while self.heap and self.heap[0][0] <= now:
            _, _, direction, frame = heapq.heappop(self.heap)
            direction.queued -= 1
            try:
                os.write(direction.target, frame)
                direction.forwarded += 1
            except OSError:
                direction.dropped += 1

    def run(self):
        while True:
            now = time.monotonic()
            timeout = None if not self.heap else max(0.0, self.heap[0][0] - now)
            for key, _ in self.selector.select(timeout):
                if key.fd == 0:
                    if not self.read_stdin():
                        return
                else:
                    self.read_frames(key.fd, time.monotonic())
            self.flush_due(time.monotonic())


if __name__ == "__main__":
    Emulator().run()
