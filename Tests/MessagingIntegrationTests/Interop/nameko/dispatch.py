# Nameko's standalone event dispatcher, for NamekoInteropTests.swift.
#
#   AMQP_URI=amqp://... python dispatch.py SOURCE EVENT_TYPE NAME
#
# Dispatches {"name": NAME, "at": <a datetime>} as event EVENT_TYPE of service SOURCE (kombu sends
# the datetime as a {"__type__": "datetime", ...} wrapper) and prints {"kind": "dispatched"}.
import eventlet

eventlet.monkey_patch()  # noqa: E402

import datetime
import json
import os
import sys

from nameko.standalone.events import event_dispatcher

source, event_type, name = sys.argv[1:4]
dispatch = event_dispatcher({"AMQP_URI": os.environ["AMQP_URI"]})
dispatch(source, event_type, {"name": name, "at": datetime.datetime(2024, 6, 1, 8, 0, tzinfo=datetime.timezone.utc)})
print(json.dumps({"kind": "dispatched"}), flush=True)
