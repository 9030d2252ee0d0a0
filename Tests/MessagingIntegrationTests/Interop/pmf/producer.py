# The tutorial's web service side: publishes EmailCommands with PyMessagingFramework.
#   producer.py QUEUE OWN_QUEUE COUNT   (broker from MQ_HOST/MQ_PORT/MQ_USERNAME/MQ_PASSWORD)
import os
import sys

from PyMessagingFramework.framework import MessagingFramework
from email_command import EmailCommand

queue, own_queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
framework = MessagingFramework(
    broker_url=os.environ["MQ_HOST"], broker_port=int(os.environ["MQ_PORT"]),
    broker_username=os.environ["MQ_USERNAME"], broker_password=os.environ["MQ_PASSWORD"],
    queue_name=own_queue, auto_delete=True, non_blocking_connection=False,
)
framework.register_commands_as_producer(command=EmailCommand, routing_key=queue, exchange_name='')
for n in range(count):
    framework.publish_message(EmailCommand(
        body="Hi Bob,\nthis is mail %d. Ünïcødé ✓ \"quoted\"" % n,
        subject="Hello %d" % n,
        recipient="bob@example.com",
    ))
print("published", flush=True)
framework.close_connection()
