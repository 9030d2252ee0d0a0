# Nameko's own client, ClusterRpcProxy, calling a (Swift) service, for NamekoInteropTests.swift.
#
#   AMQP_URI=amqp://... python caller.py SERVICE CASE...
#
# Runs each case and prints one JSON object on stdout: {CASE: outcome, ...}, where an outcome is
# {"result": ...} or {"raised": class name, "exc_type", "value", "args"} for an exception.
import eventlet

eventlet.monkey_patch()  # noqa: E402

import datetime
import json
import os
import sys

from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

service, cases = sys.argv[1], sys.argv[2:]
config = {"AMQP_URI": os.environ["AMQP_URI"]}

CALLS = {
    # positional and keyword arguments, as Python callers write them
    "hello": lambda s: s.hello("Bob", punctuation="?"),
    "hello_kwargs": lambda s: s.hello(name="Ann"),
    "hello_unicode": lambda s: s.hello("Zoë ✓"),
    # a datetime argument travels as kombu's {"__type__": "datetime", ...} wrapper
    "when": lambda s: s.when(datetime.datetime(2024, 6, 1, 8, 0, 0, 500000, tzinfo=datetime.timezone.utc)),
    "fail": lambda s: s.fail(42),
    "nope": lambda s: s.nope(),
    "badsig": lambda s: s.hello(),
    "toomany": lambda s: s.hello("a", "b", "c"),
    "nothing": lambda s: s.nothing(),
}

outcomes = {}
with ClusterRpcProxy(config, timeout=30) as proxy:
    target = getattr(proxy, service)
    for case in cases:
        try:
            outcomes[case] = {"result": CALLS[case](target)}
        except RemoteError as e:
            outcomes[case] = {"raised": type(e).__name__, "exc_type": e.exc_type, "value": e.value}
        except Exception as e:  # MethodNotFound, IncorrectSignature, ...: rebuilt as their class
            outcomes[case] = {"raised": type(e).__name__, "args": [str(a) for a in e.args]}
print(json.dumps(outcomes, default=repr), flush=True)
