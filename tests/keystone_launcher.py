"""Runs inside the Keystone venv (never imports keyform): `manage ARGS...` or `serve HOST PORT`.

Keystone's configuration parser reads `sys.argv`, so the server is started from this script with
`sys.argv` cleared instead of through `waitress-serve`; and `keystone.cmd.manage` has no
`__main__`, so its entry point is called here too.
"""

import sys


def manage(args: list[str]) -> None:
    from keystone.cmd.manage import main

    sys.argv = ["keystone-manage", *args]
    main()


def serve(host: str, port: str) -> None:
    import waitress

    sys.argv = sys.argv[:1]
    from keystone.server.wsgi import initialize_public_application

    waitress.serve(initialize_public_application(), host=host, port=int(port), threads=4, ident=None)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    {"manage": manage, "serve": serve}[command](*([rest] if command == "manage" else rest))
