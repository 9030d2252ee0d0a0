# A real Nameko service for the interoperability tests (NamekoInteropTests.swift).
#
#   AMQP_URI=amqp://... NAMEKO_SERVICE=<name> [SWIFT_EVENT_SOURCE=<source>] python service.py
#
# RPC methods for a Swift client to call; with SWIFT_EVENT_SOURCE, also a SERVICE_POOL handler for
# that source's `swift_greeted` events. It prints one JSON object per line on stdout:
# {"kind": "ready"} once running, {"kind": "event", ...} for each event handled.
import eventlet

eventlet.monkey_patch()  # noqa: E402 (as `nameko run` does, before anything else is imported)

import datetime
import decimal
import json
import os
import sys
import uuid

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import rpc
from nameko.runners import ServiceRunner

SERVICE = os.environ["NAMEKO_SERVICE"]
EVENT_SOURCE = os.environ.get("SWIFT_EVENT_SOURCE")


def emit(kind, **fields):
    print(json.dumps(dict(kind=kind, **fields), default=repr), flush=True)


class Service:
    name = SERVICE

    dispatch = EventDispatcher()

    @rpc
    def hello(self, name, punctuation="!"):
        return "Hello, {}{}".format(name, punctuation)

    @rpc
    def fail(self, code):
        raise ValueError("bad code", code)

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return "slept {}".format(seconds)

    @rpc
    def typed(self):
        # Values kombu (>= 5.3) sends as {"__type__": ..., "__value__": ...} wrappers.
        return {
            "at": datetime.datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=datetime.timezone.utc),
            "amount": decimal.Decimal("1.50"),
            "id": uuid.UUID(int=1),
            "day": datetime.date(2024, 6, 1),
        }

    @rpc
    def describe(self, when, note=None):
        # What the Swift caller's arguments became in Python.
        return {"when_type": type(when).__name__, "when": when.isoformat() if hasattr(when, "isoformat") else when,
                "note": note}

    @rpc
    def announce(self, name):
        # Dispatched from inside a worker: the event carries this call's call_id_stack.
        self.dispatch("greeted", {"name": name})
        return "announced"

    if EVENT_SOURCE:
        @event_handler(EVENT_SOURCE, "swift_greeted")
        def on_swift_greeted(self, payload):
            emit("event", payload=payload,
                 types={key: type(value).__name__ for key, value in payload.items()},
                 at=payload["at"].isoformat() if hasattr(payload.get("at"), "isoformat") else None)


def follow_parent(parent=os.getppid()):
    # A test that dies without stopping this process must not leave it running.
    while os.getppid() == parent:
        eventlet.sleep(1)
    os._exit(0)


runner = ServiceRunner({"AMQP_URI": os.environ["AMQP_URI"]})
runner.add_service(Service)
runner.start()
eventlet.spawn(follow_parent)
emit("ready", service=SERVICE, python=sys.version.split()[0])
runner.wait()
