"""Accepts every message and saves it (see common.py). No AUTH offered."""

import common

args = common.arguments()
common.serve(common.SavingHandler(args.dir))
