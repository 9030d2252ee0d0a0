# The tutorial's command class (emailme_emailservice/commands/email_command.py).
from PyMessagingFramework.framework import BaseCommand


class EmailCommand(BaseCommand):

    def __init__(self, body: str, subject: str, recipient: str):
        self.body = body
        self.subject = subject
        self.recipient = recipient
