"""Answers the first message with 451 after its DATA (a transient failure, as a busy or
greylisting server does) and accepts and saves every later one."""

import common


class TempFailOnce(common.SavingHandler):
    def __init__(self, folder):
        super().__init__(folder)
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refused == 0:
            self.refused += 1
            return "451 4.3.0 Temporary failure, please try again later"
        return self.save(session, envelope)


args = common.arguments()
common.serve(TempFailOnce(args.dir))
