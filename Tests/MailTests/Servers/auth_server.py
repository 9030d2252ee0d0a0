"""Requires AUTH (PLAIN and LOGIN over plain TCP, as a local relay might) with one user, then
saves messages. --exclude LOGIN or PLAIN offers only the other mechanism."""

from aiosmtpd.smtp import AuthResult

import common


def extra(parser):
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--exclude", action="append", default=[])


args = common.arguments(extra)


def authenticator(server, session, envelope, mechanism, auth_data):
    if auth_data.login == args.username.encode() and auth_data.password == args.password.encode():
        session.test_mechanism = mechanism
        return AuthResult(success=True, auth_data=auth_data)
    # handled=False: aiosmtpd itself answers 535.
    return AuthResult(success=False, handled=False)


common.serve(
    common.SavingHandler(args.dir),
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=False,
    auth_exclude_mechanism=args.exclude,
)
