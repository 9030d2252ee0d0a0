"""Refuses every recipient with 550 (a permanent failure)."""

import common


class RejectRecipients(common.SavingHandler):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


args = common.arguments()
common.serve(RejectRecipients(args.dir))
