"""The credential service behind `keyform server`: a WSGI app over SQLite, served by waitress."""

from keyform.server.app import create_app
from keyform.server.runner import RunningServer, init_organization, running_server, start_server

__all__ = ["RunningServer", "create_app", "init_organization", "running_server", "start_server"]
