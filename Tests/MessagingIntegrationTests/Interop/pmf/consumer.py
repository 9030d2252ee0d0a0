# The tutorial's email service side: consumes EmailCommands with PyMessagingFramework and prints
# each as one JSON line, exiting after COUNT.
#   consumer.py QUEUE COUNT   (broker from MQ_HOST/MQ_PORT/MQ_USERNAME/MQ_PASSWORD)
import json
import os
import sys

from PyMessagingFramework.framework import BaseCommandHandler, MessagingFramework
from email_command import EmailCommand

queue, count = sys.argv[1], int(sys.argv[2])
received = []


class EmailHandler(BaseCommandHandler):
    def handle(self, command: EmailCommand):
        received.append(vars(command))
        print(json.dumps(vars(command)), flush=True)
        if len(received) >= count:
            os._exit(0)


framework = MessagingFramework(
    broker_url=os.environ["MQ_HOST"], broker_port=int(os.environ["MQ_PORT"]),
    broker_username=os.environ["MQ_USERNAME"], broker_password=os.environ["MQ_PASSWORD"],
    queue_name=queue, auto_delete=True, non_blocking_connection=False,
)
framework.register_commands_as_consumer(command=EmailCommand, handler=EmailHandler)
print("ready", flush=True)
framework.start()
